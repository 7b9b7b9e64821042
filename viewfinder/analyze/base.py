"""The analyzer interface: every analyzer is one module plus one registry entry.

An analyzer has a ``name``, a ``version`` (bump it when its numbers would change), the
``specs`` of the measurements it makes (unit or scale, which direction is better, meaning,
and roles: :mod:`viewfinder.store.specs`),
and ``analyze(batch)`` which returns measurements, per-image failures and costs. The runner
(``viewfinder.analyze.runner``) batches images, skips those already stored for the same
analyzer version, and writes each batch in one transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from viewfinder.store import Measurement, MeasurementSpec, RunStore
from viewfinder.study import Study

COST_KIND = "judge"  # the ledger kind of money spent while analyzing


@dataclass(frozen=True)
class ImageItem:
    """One stored image with the prompt it was made from."""

    image_id: int
    path: Path
    sha256: str
    model: str
    seed: int | None
    prompt_text: str
    fields: dict[str, str]  # topic, emotion, variant, subject, camera, category, scene, style
    expressions: tuple[str, ...] = ()  # facial expressions that count as showing the emotion


@dataclass(frozen=True)
class CostEntry:
    """Money spent by an analyzer (a paid judge call), written to the run's ledger."""

    model: str
    usd: float
    image_id: int | None = None
    detail: dict[str, Any] | None = None


@dataclass
class AnalysisResult:
    """What one batch produced; an image is either measured or failed, never lost."""

    measurements: list[Measurement] = field(default_factory=list)
    failures: dict[int, str] = field(default_factory=dict)
    costs: list[CostEntry] = field(default_factory=list)
    missing: dict[int, dict[str, str]] = field(default_factory=dict)  # measured image -> {name: why not}

    def done_ids(self, batch: list[ImageItem]) -> list[int]:
        return [item.image_id for item in batch if item.image_id not in self.failures]


@dataclass
class AnalysisContext:
    """Run-wide facts an analyzer may use: the study, the run's store, the budget left, a progress hook."""

    study: Study
    store: RunStore
    budget_left_usd: Callable[[], float] | None = None
    max_cost_usd: float | None = None  # the run's --max-cost (the judge holds money with a BudgetGuard)
    log: Callable[[str], None] = lambda message: None


class Analyzer(ABC):
    """Base class of every analyzer."""

    name: str
    version: str
    batch_size: int = 16

    @property
    @abstractmethod
    def specs(self) -> list[MeasurementSpec]:
        """The measurements this analyzer makes."""

    @abstractmethod
    def analyze(self, batch: list[ImageItem], context: AnalysisContext) -> AnalysisResult:
        """Measure a batch of images; record per-image failures instead of raising."""

    def prefetch(self, batch: list[ImageItem]) -> None:  # noqa: B027 - an optional hook, a no-op by default
        """Start loading ``batch`` in the background; the runner calls it with the next batch
        just before analyzing the current one (optional; decoding can then overlap compute)."""

    def close(self) -> None:  # noqa: B027 - an optional hook, a no-op by default
        """Release models or connections (optional)."""
