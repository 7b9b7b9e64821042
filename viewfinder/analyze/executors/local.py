"""The default executor: every batch in this process, one after the other."""

from __future__ import annotations

from collections.abc import Iterator

from viewfinder.analyze.base import AnalysisContext, AnalysisResult, Analyzer, ImageItem
from viewfinder.analyze.executors import Executor, Measured
from viewfinder.errors import FatalRunError, ViewfinderError


class LocalExecutor(Executor):
    """Runs batches in order; the next batch is prefetched while one is analyzed."""

    name = "local"

    def run(self, analyzer: Analyzer, batches: list[list[ImageItem]], context: AnalysisContext) -> Iterator[Measured]:
        for position, batch in enumerate(batches):
            if position + 1 < len(batches):
                analyzer.prefetch(batches[position + 1])
            yield batch, measure(analyzer, batch, context)


def measure(analyzer: Analyzer, batch: list[ImageItem], context: AnalysisContext) -> AnalysisResult:
    """One batch: images whose file is missing fail, as does the whole batch when the analyzer
    raises (one broken batch must not stop the run); a :class:`FatalRunError` is raised."""
    missing = {item.image_id: f"image file missing: {item.path}" for item in batch if not item.path.is_file()}
    present = [item for item in batch if item.image_id not in missing]
    try:
        result = analyzer.analyze(present, context) if present else AnalysisResult()
    except FatalRunError:
        raise
    except Exception as exc:
        result = AnalysisResult(failures={item.image_id: message(exc) for item in present})
    result.failures.update(missing)
    return result


def message(exc: BaseException) -> str:
    """An exception as one line for the store: our own errors by their text, others with their type."""
    text = str(exc).strip()
    if isinstance(exc, ViewfinderError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
