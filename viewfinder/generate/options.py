"""How to run the generation stage: the options the CLI maps onto, shared by the runner and the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from viewfinder.providers.budget import JudgePlan
from viewfinder.providers.download import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS
from viewfinder.providers.retry import RetryPolicy


@dataclass
class GenerateOptions:
    """How to run the generation stage (CLI options map onto these)."""

    limit: int | None = None
    max_cost: float | None = None
    concurrency: int = 8
    dry_run: bool = False
    timeout_s: float = 60.0
    job_timeout_s: float = 900.0
    poll_interval_s: float = 0.5
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_image_bytes: int = MAX_IMAGE_BYTES
    max_image_pixels: int = MAX_IMAGE_PIXELS
    allow_unpriced: bool = False  # --allow-unpriced: --max-cost runs models without a price
    judge: JudgePlan | None = None  # the judge pass planned after generation (its budget share)
    on_stored: Callable[[], None] | None = None  # called after each batch of images is recorded
    executor: str = "local"  # "ray": diffusers models run on Ray actors
    ray_address: str | None = None
