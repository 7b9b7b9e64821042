"""What a generation provider takes and gives back: one request, the provider's receipt for
it, and the images it returned; and the run-wide settings every provider client receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


EXECUTORS = ("local", "ray")  # where local models (and analysis batches) run


@dataclass(frozen=True)
class BackendSettings:
    """Run-wide settings every backend receives."""

    timeout_s: float = 60.0
    concurrency: int = 8
    poll_interval_s: float = 0.5
    executor: str = "local"  # "ray": local-model backends (diffusers) run their models on Ray
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise BadInput(f"--executor {self.executor!r}: use one of {', '.join(EXECUTORS)}")
