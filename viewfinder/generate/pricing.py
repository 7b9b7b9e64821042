"""Prices per model in USD per megapixel, and cost estimates for jobs.

fal bills FLUX.1 [schnell] at $0.003 per megapixel of output and rounds each image up to
whole megapixels (1024x768 is billed as 1 MP, 1024x1024 as 2 MP). A study's ``prices``
table overrides these (``"fal:fal-ai/flux/schnell" = 0.003``).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from viewfinder.errors import BadInput

PRICE_PER_MEGAPIXEL: dict[str, float] = {
    "fal:fal-ai/flux/schnell": 0.003,
    "fal:fal-ai/flux-1/schnell": 0.003,
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
    price = price_per_megapixel(model, overrides)
    return 0.0 if price is None else round(price * billed_megapixels(width, height), 6)


def estimate_job_cost(model: str, params: Mapping[str, Any], overrides: Mapping[str, float] | None = None) -> float:
    """USD a job will cost before it runs (one image of the requested size)."""
    width, height = requested_size(params)
    return image_cost(model, width, height, overrides)
