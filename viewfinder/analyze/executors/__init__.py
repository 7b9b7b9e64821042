"""Where analyzer batches run: in this process (``local``, the default) or as Ray Data tasks
(``ray``, an extra: ``pip install 'viewfinder[ray]'``).

An executor takes an analyzer and its batches of images and yields each batch with its
result as soon as it is measured, in any order; the runner writes each one to the run's
store as it arrives, so whatever finished before a crash is kept and a re-run measures only
what is missing. A :class:`~viewfinder.errors.FatalRunError` from the analyzer stops it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from viewfinder.analyze.base import AnalysisContext, AnalysisResult, Analyzer, ImageItem
from viewfinder.errors import BadInput
from viewfinder.providers.types import EXECUTORS
from viewfinder.study.schema import Analysis

Measured = tuple[list[ImageItem], AnalysisResult]


class Executor(ABC):
    """Runs an analyzer's batches somewhere; see the module docstring."""

    name: str

    @abstractmethod
    def run(self, analyzer: Analyzer, batches: list[list[ImageItem]], context: AnalysisContext) -> Iterator[Measured]:
        """Yield ``(batch, result)`` for every batch, as each is done."""


def make_executor(name: str, settings: Analysis, ray_address: str | None = None) -> Executor:
    """The executor ``name`` (``local`` or ``ray``); Ray is imported only when asked for."""
    if name not in EXECUTORS:
        raise BadInput(f"--executor {name!r}: use one of {', '.join(EXECUTORS)}")
    if name == "local":
        if ray_address:
            raise BadInput("--ray-address needs --executor ray")
        from viewfinder.analyze.executors.local import LocalExecutor

        return LocalExecutor()
    from viewfinder.analyze.executors.ray import RayExecutor

    return RayExecutor(settings, address=ray_address)
