"""The generation backend protocol and the registry keyed by backend prefix.

A backend turns one job into one queued request (``submit``), waits for it (``wait``),
and returns where its images are (``GenerationResult``). The runner owns concurrency,
retries, resume, downloads and the cost ledger, so a new backend is one module plus
one entry in :data:`BACKENDS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from viewfinder.errors import BadInput


@dataclass(frozen=True)
class GenerationRequest:
    """What to make: one prompt with a seed and the study's generation parameters."""

    job_id: str
    model_id: str  # the part after ``backend:``
    prompt: str
    seed: int
    params: dict[str, Any]


@dataclass(frozen=True)
class Submission:
    """A request the provider accepted; ``urls`` are the ones it told us to use."""

    request_id: str
    urls: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageRef:
    """One output image: a URL (http(s) or data:) or the bytes themselves."""

    url: str | None
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class GenerationResult:
    """The provider's answer: every field it returned, and the images in it."""

    images: list[ImageRef]
    response: dict[str, Any]
    seed: int | None = None


class RetryableError(Exception):
    """A transient failure (429, 5xx, timeout, reset): try again after a pause."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class JobFailed(Exception):
    """A final failure of one job (validation error, model error); the run goes on."""


class RequestUnknown(Exception):
    """The provider no longer knows a submitted request (404): submit it again."""


class Backend(Protocol):
    """What the runner needs from a provider."""

    name: str

    def payload(self, request: GenerationRequest) -> dict[str, Any]:
        """The exact input sent for ``request`` (stored with the job, never secrets)."""

    async def submit(self, request: GenerationRequest) -> Submission:
        """Queue the request; raise RetryableError, JobFailed or FatalRunError."""

    async def wait(self, submission: Submission) -> GenerationResult:
        """Wait until done and fetch the result; raise RequestUnknown when it is gone."""

    async def cancel(self, submission: Submission) -> bool:
        """Ask the provider to drop the request; True when it accepted."""

    def redact(self, text: str) -> str:
        """``text`` with every secret this backend holds masked."""

    async def aclose(self) -> None:
        """Release connections."""


@dataclass(frozen=True)
class BackendSettings:
    """Run-wide settings every backend receives."""

    timeout_s: float = 60.0
    concurrency: int = 8
    poll_interval_s: float = 0.5
    executor: str = "local"  # "ray": local-model backends (diffusers) run their models on Ray
    ray_address: str | None = None


BackendFactory = Callable[[str, BackendSettings], Backend]


def _fal(model_id: str, settings: BackendSettings) -> Backend:
    from viewfinder.generate.fal import FalBackend

    return FalBackend.from_env(model_id, settings)


def _openai(model_id: str, settings: BackendSettings) -> Backend:
    from viewfinder.generate.openai_images import OpenAIImagesBackend

    return OpenAIImagesBackend.from_env(model_id, settings)


def _replicate(model_id: str, settings: BackendSettings) -> Backend:
    from viewfinder.generate.replicate import ReplicateBackend

    return ReplicateBackend.from_env(model_id, settings)


def _bfl(model_id: str, settings: BackendSettings) -> Backend:
    from viewfinder.generate.bfl import BflBackend

    return BflBackend.from_env(model_id, settings)


def _diffusers(model_id: str, settings: BackendSettings) -> Backend:
    if settings.executor == "ray":
        from viewfinder.generate.diffusers_ray import RayDiffusersBackend

        return RayDiffusersBackend.from_env(model_id, settings)
    from viewfinder.generate.diffusers_local import DiffusersBackend

    return DiffusersBackend.from_env(model_id, settings)


BACKENDS: dict[str, BackendFactory] = {
    "fal": _fal, "openai": _openai, "replicate": _replicate, "bfl": _bfl, "diffusers": _diffusers,
}


def split_model(model: str) -> tuple[str, str]:
    """``"fal:fal-ai/flux/schnell"`` -> ``("fal", "fal-ai/flux/schnell")``."""
    prefix, _, model_id = model.partition(":")
    if not prefix or not model_id:
        raise BadInput(f"model {model!r} is not 'backend:model-id'; e.g. 'fal:fal-ai/flux/schnell'")
    return prefix, model_id


def make_backend(model: str, settings: BackendSettings) -> Backend:
    """The backend for ``model``; unknown prefixes are bad input naming the known ones."""
    prefix, model_id = split_model(model)
    factory = BACKENDS.get(prefix)
    if factory is None:
        raise BadInput(
            f"model {model!r}: no generation backend {prefix!r}; use one of: {', '.join(sorted(BACKENDS))}"
        )
    return factory(model_id, settings)
