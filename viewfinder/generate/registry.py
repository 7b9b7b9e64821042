"""The one composition root of generation: model prefix -> backend factory.

Factories import their provider module on first use, so ``fal`` does not load diffusers and no
provider module imports this one (no cycle).
"""

from __future__ import annotations

import importlib

from viewfinder.errors import BadInput
from viewfinder.generate.backend import Backend
from viewfinder.providers.types import BackendSettings

BACKENDS: dict[str, str] = {  # prefix -> "module:class" with a ``from_env(model_id, settings)``
    "fal": "viewfinder.providers.fal:FalBackend",
    "openai": "viewfinder.providers.openai_images:OpenAIImagesBackend",
    "replicate": "viewfinder.providers.replicate:ReplicateBackend",
    "bfl": "viewfinder.providers.bfl:BflBackend",
    "diffusers": "viewfinder.providers.diffusers_local:DiffusersBackend",
}
RAY_BACKENDS: dict[str, str] = {  # prefix -> backend with ``--executor ray`` (local models on Ray actors)
    "diffusers": "viewfinder.providers.diffusers_ray:RayDiffusersBackend",
}


def split_model(model: str) -> tuple[str, str]:
    """``"fal:fal-ai/flux/schnell"`` -> ``("fal", "fal-ai/flux/schnell")``."""
    prefix, _, model_id = model.partition(":")
    if not prefix or not model_id:
        raise BadInput(f"model {model!r} is not 'backend:model-id'; e.g. 'fal:fal-ai/flux/schnell'")
    return prefix, model_id


def make_backend(model: str, settings: BackendSettings) -> Backend:
    """The backend for ``model``; unknown prefixes are bad input naming the known ones."""
    check_model(model)
    prefix, model_id = split_model(model)
    factory = (RAY_BACKENDS.get(prefix) if settings.executor == "ray" else None) or BACKENDS[prefix]
    module, _, attribute = factory.partition(":")
    backend: Backend = getattr(importlib.import_module(module), attribute).from_env(model_id, settings)
    return backend


def check_model(model: str) -> None:
    """Bad input unless ``model`` is 'backend:model-id' of a known backend (nothing is loaded)."""
    prefix, _ = split_model(model)
    if prefix not in BACKENDS:
        raise BadInput(f"model {model!r}: no generation backend {prefix!r}; use one of: {', '.join(sorted(BACKENDS))}")
