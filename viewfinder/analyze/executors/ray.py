"""Analyzer batches as Ray Data tasks, on this machine or an existing Ray cluster.

The batches go out as rows of image paths (never pixels: each worker reads the files, so the
run folder must be at the same path on every node, e.g. a shared file system). They run in
``map_batches`` with a callable class, one per actor, so an analyzer (and its model) is
built once per actor; GPU analyzers ask for one GPU per actor when the cluster has GPUs.
Measurements come back as plain columns and the driver hands each finished batch to the
runner, which stores it at once: a killed worker loses only its batch in flight (Ray runs it
again on another actor) and a re-run measures only what is missing.

The judge stays in this process: its work is waiting on an API (C / L, like generation),
and its spending is checked against ``--max-cost`` call by call.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any, cast

import numpy as np

from viewfinder.analyze.base import AnalysisContext, AnalysisResult, Analyzer, ImageItem
from viewfinder.analyze.executors import Executor, Measured
from viewfinder.analyze.executors.local import LocalExecutor, measure
from viewfinder.analyze.registry import ANALYZERS
from viewfinder.errors import BadInput, FatalRunError
from viewfinder.store import Measurement
from viewfinder.study.schema import Analysis

STAYS_LOCAL = frozenset({"judge"})  # API-bound and budgeted: run in the local process
GPU_ANALYZERS = frozenset({"clip", "faces"})  # one GPU per actor when the cluster has GPUs
STATUS_OK, STATUS_FAILED, MEASUREMENT = "ok", "failed", "m"

AnalyzerFactory = Callable[[], Analyzer]


def build_analyzer(name: str, settings: dict[str, Any]) -> Analyzer:
    """The registry's analyzer ``name`` with the study's settings (runs on a worker)."""
    return ANALYZERS[name](Analysis.model_validate(settings))


class RayExecutor(Executor):
    """Runs analyzers on Ray; ``address`` is a cluster's (``ray://host:10001`` or ``auto``),
    None starts or joins a local Ray. ``factories`` replaces how an analyzer is built on the
    workers (tests use it)."""

    name = "ray"

    def __init__(
        self,
        settings: Analysis,
        *,
        address: str | None = None,
        factories: dict[str, AnalyzerFactory] | None = None,
        max_actors: int | None = None,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise BadInput("--executor ray needs Ray: pip install 'viewfinder[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        self.settings = settings.model_dump()
        self.factories = factories or {}
        self.max_actors = max_actors

    def run(self, analyzer: Analyzer, batches: list[list[ImageItem]], context: AnalysisContext) -> Iterator[Measured]:
        if analyzer.name in STAYS_LOCAL:
            yield from LocalExecutor().run(analyzer, batches, context)
            return
        analyzer.close()  # the driver built it only to learn its version and specs
        yield from self._remote(analyzer, batches)

    def _remote(self, analyzer: Analyzer, batches: list[list[ImageItem]]) -> Iterator[Measured]:
        import ray
        import ray.data

        data_context = ray.data.DataContext.get_current()
        data_context.enable_progress_bars = False
        data_context.execution_options.preserve_order = False
        factory = self.factories.get(analyzer.name) or functools.partial(build_analyzer, analyzer.name, self.settings)
        resources = ray.cluster_resources()
        gpus = analyzer.name in GPU_ANALYZERS and resources.get("GPU", 0) >= 1
        actors = int(resources.get("GPU", 0) if gpus else resources.get("CPU", 1))
        actors = max(1, min(actors, len(batches), self.max_actors or actors))
        rows = [_row(index, item) for index, batch in enumerate(batches) for item in batch]
        dataset = ray.data.from_items(rows, override_num_blocks=len(batches)).map_batches(
            AnalyzeBatches,
            fn_constructor_args=(factory,),
            batch_size=max(1, analyzer.batch_size),
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors),
            num_gpus=1 if gpus else 0,
        )
        collected: dict[int, list[dict[str, Any]]] = defaultdict(list)
        statuses: dict[int, int] = defaultdict(int)
        try:
            for block in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                for row in _rows(block):
                    index = row["batch"]
                    collected[index].append(row)
                    if row["kind"] != MEASUREMENT:
                        statuses[index] += 1
                        if statuses[index] == len(batches[index]):
                            yield batches[index], _result(collected.pop(index))
        except ray.exceptions.RayError as exc:
            raise _reason(exc, analyzer.name) from None


class AnalyzeBatches:
    """The callable class of ``map_batches``: one per actor, so the analyzer (and its model)
    is built once per actor; a call measures one batch of paths and returns columns."""

    def __init__(self, factory: AnalyzerFactory) -> None:
        self.analyzer = factory()
        # Remote analyzers use neither the study nor the store (STAYS_LOCAL keeps those that do).
        self.context = AnalysisContext(study=cast(Any, None), store=cast(Any, None))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items = [_item(batch, position) for position in range(len(batch["image_id"]))]
        result = measure(self.analyzer, items, self.context)
        return _columns(batch["batch"], items, result)


def _row(index: int, item: ImageItem) -> dict[str, Any]:
    return {
        "batch": index,
        "image_id": item.image_id,
        "path": str(item.path),
        "sha256": item.sha256,
        "model": item.model,
        "seed": -1 if item.seed is None else item.seed,
        "prompt_text": item.prompt_text,
        "fields": json.dumps(item.fields),
        "expressions": json.dumps(list(item.expressions)),
    }


def _item(batch: dict[str, np.ndarray], position: int) -> ImageItem:
    from pathlib import Path

    seed = int(batch["seed"][position])
    return ImageItem(
        image_id=int(batch["image_id"][position]),
        path=Path(str(batch["path"][position])),
        sha256=str(batch["sha256"][position]),
        model=str(batch["model"][position]),
        seed=None if seed == -1 else seed,
        prompt_text=str(batch["prompt_text"][position]),
        fields=json.loads(str(batch["fields"][position])),
        expressions=tuple(json.loads(str(batch["expressions"][position]))),
    )


def _columns(indexes: np.ndarray, items: list[ImageItem], result: AnalysisResult) -> dict[str, np.ndarray]:
    """One row per measurement and one status row per image, as plain columns."""
    batch_of = {item.image_id: int(index) for item, index in zip(items, indexes, strict=True)}
    rows: list[tuple[int, int, str, str, float, bool, str, bool, str]] = []
    for m in result.measurements:
        value = math.nan if m.value is None else float(m.value)
        rows.append(
            (
                batch_of[m.image_id],
                m.image_id,
                MEASUREMENT,
                m.name,
                value,
                m.value is not None,
                m.text or "",
                m.text is not None,
                "",
            )
        )
    for item in items:
        error = result.failures.get(item.image_id)
        kind = STATUS_OK if error is None else STATUS_FAILED
        rows.append((batch_of[item.image_id], item.image_id, kind, "", math.nan, False, "", False, error or ""))
    names = ("batch", "image_id", "kind", "name", "value", "has_value", "text", "has_text", "error")
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    types = (np.int64, np.int64, object, object, np.float64, bool, object, bool, object)
    return {name: np.array(column, dtype=dtype) for name, column, dtype in zip(names, columns, types, strict=True)}


def _rows(block: dict[str, np.ndarray]) -> Iterator[dict[str, Any]]:
    for position in range(len(block["image_id"])):
        yield {
            "batch": int(block["batch"][position]),
            "image_id": int(block["image_id"][position]),
            "kind": str(block["kind"][position]),
            "name": str(block["name"][position]),
            "value": float(block["value"][position]) if block["has_value"][position] else None,
            "text": str(block["text"][position]) if block["has_text"][position] else None,
            "error": str(block["error"][position]),
        }


def _result(rows: list[dict[str, Any]]) -> AnalysisResult:
    result = AnalysisResult()
    for row in rows:
        if row["kind"] == MEASUREMENT:
            result.measurements.append(Measurement(row["image_id"], row["name"], row["value"], row["text"]))
        elif row["kind"] == STATUS_FAILED:
            result.failures[row["image_id"]] = row["error"]
    return result


ANSI = re.compile(r"\x1b\[[0-9;]*m")
RAY_ERRORS = ("RayTaskError", "RayActorError", "ActorDiedError", "RayError")


def _reason(exc: BaseException, name: str) -> FatalRunError:
    """The analyzer's own error inside a Ray error (its message names the fix: weights not
    fetched, a bad setting), else Ray's first line."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, FatalRunError):
        return cause
    text = ANSI.sub("", str(exc))
    for error, message in reversed(re.findall(r"^\s*(?:\w+\.)*(\w+(?:Error|Exception)): (.+)$", text, re.M)):
        if error not in RAY_ERRORS:
            return FatalRunError(message if error == "FatalRunError" else f"{error}: {message}")
    return FatalRunError(f"Ray could not run analyzer {name}: {text.strip().splitlines()[0]}")
