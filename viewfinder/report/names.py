"""Names as readers say them: models, prompt dimensions, methods; and numbers with ranges.

The report's prose never shows an API id such as ``fal:fal-ai/flux/schnell`` where a person
would write "FLUX.1 [schnell]"; ids stay in the researcher's tables and the methods.
"""

from __future__ import annotations

import re

#: Known generation models by their id without the provider prefix.
MODEL_NAMES: dict[str, str] = {
    "fal-ai/flux/schnell": "FLUX.1 [schnell]",
    "fal-ai/flux/dev": "FLUX.1 [dev]",
    "fal-ai/flux-pro": "FLUX.1 [pro]",
    "fal-ai/flux-pro/v1.1": "FLUX1.1 [pro]",
    "fal-ai/flux-pro/v1.1-ultra": "FLUX1.1 [pro] ultra",
    "black-forest-labs/flux-schnell": "FLUX.1 [schnell]",
    "black-forest-labs/flux-dev": "FLUX.1 [dev]",
    "black-forest-labs/flux-1.1-pro": "FLUX1.1 [pro]",
    "flux-pro-1.1": "FLUX1.1 [pro]",
    "flux-dev": "FLUX.1 [dev]",
    "stabilityai/stable-diffusion-xl-base-1.0": "Stable Diffusion XL",
    "stabilityai/sdxl-turbo": "SDXL Turbo",
    "fal-ai/fast-sdxl": "Stable Diffusion XL",
    "dall-e-3": "DALL·E 3",
    "gpt-image-1": "GPT Image 1",
}

#: Prompt dimensions as a reader says them (the headline's and the conclusion's words).
DIMENSION_NAMES: dict[str, str] = {
    "camera_angle": "the camera angle",
    "shot_size": "the shot size",
    "scene": "the scene",
    "style": "the style",
    "emotion": "the emotion on the face",
}

_METHOD = re.compile(r"\(([^()]*)\)\s*$")


def model_name(model: str) -> str:
    """A model id as people write it: the table's name, else the id without its provider and
    organisation (``replicate:acme/painter-2`` -> ``painter-2``)."""
    bare = model.split(":", 1)[-1]
    if bare in MODEL_NAMES:
        return MODEL_NAMES[bare]
    return bare.rstrip("/").rsplit("/", 1)[-1] or model


def dimension_name(dimension: str) -> str:
    return DIMENSION_NAMES.get(dimension, "the " + dimension.replace("_", " "))


def method_name(label: str, method: str) -> str:
    """The method as the score report's label names it ("Camera angle (VLM judge)" -> "VLM judge")."""
    found = _METHOD.search(label)
    return found.group(1) if found else method


def num(value: float | None, digits: int = 2) -> str:
    """A number with a typographic minus ("−0.35"); "n/a" when undefined."""
    if value is None:
        return "n/a"
    text = f"{value:.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]  # "-0.00" is 0.00
    return text.replace("-", "\u2212")


def span(low: float | None, high: float | None, digits: int = 2) -> str:
    """An interval as words read it: "0.22 to 0.78", "−0.35 to −0.23" (never "-0.35--0.23")."""
    return f"{num(low, digits)} to {num(high, digits)}"


def join(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def count(n: int, one: str, many: str | None = None) -> str:
    """ "1 model", "2 models" (never "1 model(s)")."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"
