"""Run analyzers over a run folder's images: batched, resumable, one transaction per batch.

For each analyzer the runner registers its measurement specs, skips the images already
analyzed by the same analyzer version, hands the rest over in batches, and stores each
batch (measurements, done and failed images) in one transaction. A failure on one image is
recorded and the rest go on; an analyzer that cannot be built (weights not downloaded, no
network) is reported as failed with its message while the other analyzers run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from viewfinder.analyze.base import COST_KIND, AnalysisContext, AnalysisResult, Analyzer, ImageItem
from viewfinder.analyze.executors import Executor
from viewfinder.analyze.executors.local import LocalExecutor
from viewfinder.analyze.executors.local import message as _message
from viewfinder.analyze.plan import plan_judge
from viewfinder.analyze.registry import ANALYZERS, check_names
from viewfinder.errors import FatalRunError
from viewfinder.providers.budget import check_max_cost, require_prices
from viewfinder.providers.fixes import failure_lines, print_failures
from viewfinder.store import ImageRecord, RunStore
from viewfinder.study import Study
from viewfinder.study.grammar import FIELDS
from viewfinder.study.schema import Analysis

FOLLOW_POLL_S = 0.5  # while generation runs, look for newly stored images at least this often


@dataclass
class Follow:
    """Signals from a generation running alongside the analysis (see :func:`run_analysis`)."""

    stored: threading.Event = field(default_factory=threading.Event)  # images were stored since the last look
    done: threading.Event = field(default_factory=threading.Event)  # no more images are coming

    def image_stored(self) -> None:
        self.stored.set()

    def finish(self) -> None:
        self.done.set()
        self.stored.set()


@dataclass
class AnalyzerOutcome:
    """What one analyzer did in this call."""

    name: str
    version: str | None = None
    done: int = 0
    skipped: int = 0
    failed: int = 0
    cost_usd: float = 0.0
    error: str | None = None  # why the analyzer could not run or stopped early


@dataclass
class AnalysisSummary:
    """The outcome per analyzer; ``failed`` counts images not measured (exit code 1)."""

    analyzers: list[AnalyzerOutcome] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(outcome.failed for outcome in self.analyzers)

    @property
    def done(self) -> int:
        return sum(outcome.done for outcome in self.analyzers)

    @property
    def skipped(self) -> int:
        return sum(outcome.skipped for outcome in self.analyzers)

    @property
    def cost_usd(self) -> float:
        return sum(outcome.cost_usd for outcome in self.analyzers)


def image_items(store: RunStore, study: Study) -> list[ImageItem]:
    """Every stored image with its prompt fields and the emotion's facial expressions."""
    expressions = {emotion.name: tuple(emotion.expressions) for emotion in study.emotions}
    return [_item(store, row, expressions) for row in store.images()]


def _item(store: RunStore, row: ImageRecord, expressions: dict[str, tuple[str, ...]]) -> ImageItem:
    return ImageItem(
        image_id=row.id,
        path=store.image_path(row),
        sha256=row.sha256,
        model=row.model,
        seed=row.seed,
        prompt_text=row.prompt_text,
        fields={name: row.prompt_field(name) for name in FIELDS},
        expressions=expressions.get(row.emotion, ()),
    )


def run_analysis(
    store: RunStore,
    study: Study,
    names: list[str] | None,
    *,
    judge: str | None,
    max_cost: float | None,
    console: Console | None = None,
    allow_unpriced: bool = False,
    follow: Follow | None = None,
    executor: Executor | None = None,
) -> AnalysisSummary:
    """Run the analyzers ``names`` (default: the study's) over every stored image.

    With ``follow`` (called in a thread while generation runs), images are analyzed as they
    are stored, in full batches, until ``follow.done`` and nothing is left: judging starts on
    the first images instead of after the last one. The analyzers are built once the first
    images are stored (their imports and models then do not delay the first request).
    Progress bars are left to generation. ``executor`` runs the batches (default: here)."""
    console = console or Console(stderr=True)
    executor = executor or LocalExecutor()
    check_max_cost(max_cost)
    selected = check_names(list(study.analysis.analyzers if names is None else names))
    settings = study.analysis if judge is None else study.analysis.model_copy(update={"judge": judge})
    plan = plan_judge(study, selected, judge)
    if max_cost is not None and not allow_unpriced:
        require_prices([], plan)
    summary = AnalysisSummary()
    context = AnalysisContext(
        study=study,
        store=store,
        budget_left_usd=None if max_cost is None else (lambda: max_cost - store.total_cost()),
        max_cost_usd=max_cost,
        log=lambda message: console.print(message, markup=False, highlight=False),
    )
    with _progress(console, live=follow is None) as progress:
        if follow is not None:
            _follow(store, study, selected, settings, context, summary, console, progress, follow, executor)
        else:
            items = image_items(store, study)
            for name in selected:
                analyzer = _build(name, settings, items, store, summary, console)
                if analyzer is None:
                    continue
                try:
                    outcome = summary.analyzers[-1]
                    pending = _pending(store, analyzer, items, outcome, set())
                    _run_batches(store, analyzer, pending, context, outcome, progress, executor)
                finally:
                    analyzer.close()
    _print_summary(console, summary, store)
    return summary


def _build(
    name: str, settings: Analysis, items: list[ImageItem], store: RunStore, summary: AnalysisSummary, console: Console
) -> Analyzer | None:
    """The analyzer ``name``, or None (reported, its images counted failed) when it cannot run."""
    outcome = AnalyzerOutcome(name=name)
    summary.analyzers.append(outcome)
    try:
        return ANALYZERS[name](settings)
    except Exception as exc:  # weights missing, no network, bad settings: report, go on
        outcome.error = _message(exc)
        outcome.failed = len(_never_done(store, name, items))
        console.print(f"[red]analyzer {name} cannot run:[/] {escape(outcome.error)}", highlight=False)
        return None


def _follow(
    store: RunStore,
    study: Study,
    selected: list[str],
    settings: Analysis,
    context: AnalysisContext,
    summary: AnalysisSummary,
    console: Console,
    progress: Progress,
    follow: Follow,
    executor: Executor,
) -> None:
    """Analyze images as generation stores them (see :func:`run_analysis`)."""
    follow.stored.wait()
    built: list[tuple[Analyzer, AnalyzerOutcome]] = []
    for name in selected:
        analyzer = _build(name, settings, [], store, summary, console)
        if analyzer is not None:
            built.append((analyzer, summary.analyzers[-1]))
    tried: dict[str, set[int]] = {analyzer.name: set() for analyzer, _ in built}
    try:
        while built:
            last_pass = follow.done.is_set()
            follow.stored.clear()  # before looking: images stored from now on wake the next pass
            items = image_items(store, study)
            for analyzer, outcome in list(built):
                pending = _pending(store, analyzer, items, outcome, tried[analyzer.name])
                if not last_pass:  # full batches only while more images are coming
                    pending = pending[: len(pending) // max(1, analyzer.batch_size) * max(1, analyzer.batch_size)]
                tried[analyzer.name].update(item.image_id for item in pending)
                if not _run_batches(store, analyzer, pending, context, outcome, progress, executor):
                    built.remove((analyzer, outcome))  # it had to stop
                    analyzer.close()
            if last_pass:
                break
            follow.stored.wait(FOLLOW_POLL_S)
    finally:
        for analyzer, _ in built:
            analyzer.close()
    items = image_items(store, study)
    for outcome in summary.analyzers:
        if outcome.error is not None and outcome.version is None:  # never built: every image it lacks
            outcome.failed = len(_never_done(store, outcome.name, items))


def _pending(
    store: RunStore, analyzer: Analyzer, items: list[ImageItem], outcome: AnalyzerOutcome, tried: set[int]
) -> list[ImageItem]:
    """``items`` this analyzer version has not stored (nor tried in this call); the first
    call per analyzer registers its specs and counts what was stored before."""
    first = outcome.version is None
    if first:
        outcome.version = analyzer.version
        store.register_specs(analyzer.name, analyzer.version, analyzer.specs)
    stored = store.analyzed_image_ids(analyzer.name, analyzer.version)
    if first:
        outcome.skipped = sum(item.image_id in stored for item in items)
    return [item for item in items if item.image_id not in stored and item.image_id not in tried]


def _run_batches(
    store: RunStore,
    analyzer: Analyzer,
    pending: list[ImageItem],
    context: AnalysisContext,
    outcome: AnalyzerOutcome,
    progress: Progress,
    executor: Executor,
) -> bool:
    """Analyze ``pending`` in batches on ``executor``, storing each batch as it arrives;
    False when the analyzer had to stop."""
    if not pending:
        return True
    task = progress.add_task(f"{analyzer.name} {analyzer.version}", total=len(pending))
    size = max(1, analyzer.batch_size)
    batches = [pending[start : start + size] for start in range(0, len(pending), size)]
    seen: set[int] = set()
    try:
        for batch, result in executor.run(analyzer, batches, context):
            done = result.done_ids(batch)
            _store_batch(store, analyzer, batch, result, done)
            outcome.done += len(done)
            outcome.failed += len(batch) - len(done)
            outcome.cost_usd += sum(cost.usd for cost in result.costs)
            seen.update(item.image_id for item in batch)
            progress.advance(task, len(batch))
    except FatalRunError as exc:
        outcome.error = _message(exc)
        # every image it did not reach is failed with the reason, so status and the report can say why
        rest = [item.image_id for item in pending if item.image_id not in seen]
        store.write_analysis(analyzer.name, analyzer.version, [], [], dict.fromkeys(rest, outcome.error))
        outcome.failed += len(rest)
        context.log(f"analyzer {analyzer.name} stopped: {outcome.error}")
        return False
    return True


def _store_batch(
    store: RunStore,
    analyzer: Analyzer,
    batch: list[ImageItem],
    result: AnalysisResult,
    done: list[int],
) -> None:
    """Write one batch's ledger entries, measurements and statuses (``done``: its measured
    images) in one transaction."""
    batch_ids = {item.image_id for item in batch}
    done_set = set(done)
    measurements = [m for m in result.measurements if m.image_id in done_set]
    failures = {image_id: error for image_id, error in result.failures.items() if image_id in batch_ids}
    with store.transaction():  # the batch's costs and results commit together
        for cost in result.costs:
            store.add_cost(COST_KIND, cost.model, cost.usd, image_id=cost.image_id, detail=cost.detail)
        store.write_analysis(analyzer.name, analyzer.version, measurements, done, failures, result.missing)


def _never_done(store: RunStore, name: str, items: list[ImageItem]) -> list[ImageItem]:
    """Images that no version of analyzer ``name`` has measured yet."""
    done = store.analyzed_image_ids(name)
    return [item for item in items if item.image_id not in done]


def _progress(console: Console, live: bool = True) -> Progress:
    return Progress(
        TextColumn("[bold]analyze[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not live,
    )


def _print_summary(console: Console, summary: AnalysisSummary, store: RunStore) -> None:
    """Per analyzer: counts and money, then its failures and left-out measurements grouped by
    reason, each with a count, an example image and the fix."""
    failures, missing = store.failure_groups(), store.missing_groups()
    for outcome in summary.analyzers:
        version = f" {outcome.version}" if outcome.version else ""
        line = (
            f"{outcome.name}{version}: {outcome.done} measured, {outcome.skipped} already stored, "
            f"{outcome.failed} failed"
        )
        if outcome.cost_usd:
            line += f", ${outcome.cost_usd:.4f}"
        console.print(line, markup=False, highlight=False)
        if outcome.failed:
            groups = [g for g in failures if g.stage == "analyze" and g.source == outcome.name]
            print_failures(console, groups, outcome.name)
        gaps = [g for g in missing if g.source.split(".", 1)[0] == outcome.name]
        for text in failure_lines(gaps):
            console.print(f"  not measured: {text}", markup=False, highlight=False)
