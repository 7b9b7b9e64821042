"""Prices per model in USD per megapixel, and cost estimates for jobs.

fal bills FLUX.1 [schnell] at $0.003 per megapixel of output and rounds each image up to
whole megapixels (1024x768 is billed as 1 MP, 1024x1024 as 2 MP). A study's ``prices``
table overrides these (``"fal:fal-ai/flux/schnell" = 0.003``).
OpenAI, Replicate and BFL bill per image instead: see :data:`PRICE_PER_IMAGE` and
:data:`PRICE_FIRST_MEGAPIXEL`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from viewfinder.errors import BadInput

PRICE_PER_MEGAPIXEL: dict[str, float] = {
    "fal:fal-ai/flux/schnell": 0.003,
    "fal:fal-ai/flux-1/schnell": 0.003,
}

# USD per image, one price or one per output size ("WxH"; the size of nearest aspect ratio
# is used). OpenAI's are for quality "medium", the quality viewfinder asks for by default.
PRICE_PER_IMAGE: dict[str, float | dict[str, float]] = {
    "openai:gpt-image-1.5": {"1024x1024": 0.034, "1536x1024": 0.05, "1024x1536": 0.05},
    "openai:chatgpt-image-latest": {"1024x1024": 0.034, "1536x1024": 0.05, "1024x1536": 0.05},
    "openai:gpt-image-1": {"1024x1024": 0.042, "1536x1024": 0.063, "1024x1536": 0.063},
    "openai:gpt-image-1-mini": {"1024x1024": 0.011, "1536x1024": 0.015, "1024x1536": 0.015},
    "replicate:black-forest-labs/flux-schnell": 0.003,
    "replicate:black-forest-labs/flux-dev": 0.025,
    "replicate:black-forest-labs/flux-1.1-pro": 0.04,
    "bfl:flux-pro-1.1": 0.04,
    "bfl:flux-pro-1.1-ultra": 0.06,
    "bfl:flux-kontext-pro": 0.04,
    "bfl:flux-kontext-max": 0.08,
}

# BFL's FLUX.2 models: USD for the first megapixel and for each further megapixel of output.
PRICE_FIRST_MEGAPIXEL: dict[str, tuple[float, float]] = {
    "bfl:flux-2-klein-4b": (0.014, 0.001),
    "bfl:flux-2-klein-9b": (0.015, 0.002),
    "bfl:flux-2-pro": (0.03, 0.015),
    "bfl:flux-2-max": (0.07, 0.03),
    "bfl:flux-2-flex": (0.05, 0.05),
}

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
    return PRICE_PER_MEGAPIXEL.get(model)


def nearest_aspect(width: int, height: int, options: Iterable[str]) -> str:
    """The option ("WxH" or "W:H") whose aspect ratio is nearest ``width`` x ``height``."""
    aspect = math.log(width / height)

    def distance(option: str) -> float:
        w, h = re.split(r"[x:]", option)
        return abs(math.log(int(w) / int(h)) - aspect)

    return min(options, key=distance)


def price_per_image(model: str, width: int, height: int) -> float | None:
    """USD for one ``width`` x ``height`` image of a model billed per image; None otherwise."""
    if model in PRICE_FIRST_MEGAPIXEL:
        first, further = PRICE_FIRST_MEGAPIXEL[model]
        return round(first + further * max(0.0, width * height / 1_000_000 - 1), 6)
    price = PRICE_PER_IMAGE.get(model)
    if isinstance(price, dict):
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
