"""Cost estimates for jobs from the prices each provider module declares (``PRICES``).

fal bills per megapixel of output, rounding each image up to whole megapixels (1024x768 is
billed as 1 MP, 1024x1024 as 2 MP); OpenAI, Replicate and BFL bill per image. A study's
``prices`` table overrides a model's price per megapixel (``"fal:fal-ai/flux/schnell" = 0.003``).
Local diffusers generation costs nothing.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from viewfinder.errors import BadInput
from viewfinder.providers.keys import PROVIDER_MODULES


@dataclass(frozen=True)
class Prices:
    """What a provider's models cost, declared in the provider's module as ``PRICES``.

    ``per_megapixel``: USD per billed megapixel (rounded up to whole megapixels).
    ``per_image``: USD per image, one price or one per output size ("WxH"; the size of
    nearest aspect ratio is used). ``first_megapixel``: USD for the first and for each
    further megapixel. Keys are full model names ("fal:fal-ai/flux/schnell")."""

    per_megapixel: Mapping[str, float] = field(default_factory=dict)
    per_image: Mapping[str, float | Mapping[str, float]] = field(default_factory=dict)
    first_megapixel: Mapping[str, tuple[float, float]] = field(default_factory=dict)


@cache
def _prices() -> Prices:
    """Every provider's declared prices in one table (imports the provider modules once)."""
    tables = [importlib.import_module(f"viewfinder.providers.{name}").PRICES for name in PROVIDER_MODULES]
    return Prices(
        per_megapixel={k: v for t in tables for k, v in t.per_megapixel.items()},
        per_image={k: v for t in tables for k, v in t.per_image.items()},
        first_megapixel={k: v for t in tables for k, v in t.first_megapixel.items()},
    )


# fal's named image sizes in pixels (width, height).
IMAGE_SIZES: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}


def price_per_megapixel(model: str, overrides: Mapping[str, float] | None = None) -> float | None:
    """USD per megapixel for ``model`` (the study's table first); None when unknown."""
    if overrides and model in overrides:
        return float(overrides[model])
    if model.startswith("diffusers:"):
        return 0.0
    return _prices().per_megapixel.get(model)


def nearest_aspect(width: int, height: int, options: Iterable[str]) -> str:
    """The option ("WxH" or "W:H") whose aspect ratio is nearest ``width`` x ``height``."""
    aspect = math.log(width / height)

    def distance(option: str) -> float:
        w, h = re.split(r"[x:]", option)
        return abs(math.log(int(w) / int(h)) - aspect)

    return min(options, key=distance)


def price_per_image(model: str, width: int, height: int) -> float | None:
    """USD for one ``width`` x ``height`` image of a model billed per image; None otherwise."""
    prices = _prices()
    if model in prices.first_megapixel:
        first, further = prices.first_megapixel[model]
        return round(first + further * max(0.0, width * height / 1_000_000 - 1), 6)
    price = prices.per_image.get(model)
    if isinstance(price, Mapping):
        return price[nearest_aspect(width, height, price)]
    return price


def has_price(model: str, overrides: Mapping[str, float] | None = None) -> bool:
    """Whether any price (per megapixel or per image) is known for ``model``."""
    return price_per_megapixel(model, overrides) is not None or price_per_image(model, 1024, 1024) is not None


def billed_megapixels(width: int, height: int) -> int:
    """Megapixels as billed: rounded up to whole megapixels, at least one."""
    return max(1, math.ceil(width * height / 1_000_000))


def requested_size(params: Mapping[str, Any]) -> tuple[int, int]:
    """The output size a job asks for: explicit width/height, else the named size."""
    if params.get("width") and params.get("height"):
        return int(params["width"]), int(params["height"])
    name = params.get("image_size", "landscape_4_3")
    if name not in IMAGE_SIZES:
        raise BadInput(
            f"study [generation].image_size {name!r} is unknown; use one of {', '.join(IMAGE_SIZES)} "
            "or set width and height"
        )
    return IMAGE_SIZES[name]


def image_cost(model: str, width: int, height: int, overrides: Mapping[str, float] | None = None) -> float:
    """USD for one image of ``width`` x ``height`` (0 when the price is unknown)."""
    if not (overrides and model in overrides):
        per_image = price_per_image(model, width, height)
        if per_image is not None:
            return per_image
    price = price_per_megapixel(model, overrides)
    return 0.0 if price is None else round(price * billed_megapixels(width, height), 6)


def estimate_job_cost(model: str, params: Mapping[str, Any], overrides: Mapping[str, float] | None = None) -> float:
    """USD a job will cost before it runs (one image of the requested size)."""
    width, height = requested_size(params)
    return image_cost(model, width, height, overrides)
