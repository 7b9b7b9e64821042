"""Run analyzers over a run folder's images: batched, resumable, one transaction per batch.

For each analyzer the runner registers its measurement specs, skips the images already
analyzed by the same analyzer version, hands the rest over in batches, and stores each
batch (measurements, done and failed images) in one transaction. A failure on one image is
recorded and the rest go on; an analyzer that cannot be built (weights not downloaded, no
network) is reported as failed with its message while the other analyzers run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from viewfinder.analyze.base import COST_KIND, AnalysisContext, AnalysisResult, Analyzer, ImageItem
from viewfinder.analyze.plan import plan_judge
from viewfinder.analyze.registry import ANALYZERS, check_names
from viewfinder.errors import FatalRunError, ViewfinderError
from viewfinder.providers.budget import check_max_cost, require_prices
from viewfinder.providers.fixes import failure_lines, print_failures
from viewfinder.store import ImageRecord, RunStore
from viewfinder.study import Study
from viewfinder.study.grammar import FIELDS


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
) -> AnalysisSummary:
    """Run the analyzers ``names`` (default: the study's) over every stored image."""
    console = console or Console(stderr=True)
    check_max_cost(max_cost)
    selected = check_names(list(study.analysis.analyzers if names is None else names))
    settings = study.analysis if judge is None else study.analysis.model_copy(update={"judge": judge})
    plan = plan_judge(study, selected, judge)
    if max_cost is not None and not allow_unpriced:
        require_prices([], plan)
    items = image_items(store, study)
    summary = AnalysisSummary()
    context = AnalysisContext(
        study=study,
        store=store,
        budget_left_usd=None if max_cost is None else (lambda: max_cost - store.total_cost()),
        max_cost_usd=max_cost,
        log=lambda message: console.print(message, markup=False, highlight=False),
    )
    with _progress(console) as progress:
        for name in selected:
            outcome = AnalyzerOutcome(name=name)
            summary.analyzers.append(outcome)
            try:
                analyzer = ANALYZERS[name](settings)
            except Exception as exc:  # weights missing, no network, bad settings: report, go on
                outcome.error = _message(exc)
                outcome.failed = len(_never_done(store, name, items))
                console.print(f"[red]analyzer {name} cannot run:[/] {escape(outcome.error)}", highlight=False)
                continue
            try:
                _run_one(store, analyzer, items, context, outcome, progress)
            finally:
                analyzer.close()
    _print_summary(console, summary, store)
    return summary


def _run_one(
    store: RunStore,
    analyzer: Analyzer,
    items: list[ImageItem],
    context: AnalysisContext,
    outcome: AnalyzerOutcome,
    progress: Progress,
) -> None:
    outcome.version = analyzer.version
    store.register_specs(analyzer.name, analyzer.version, analyzer.specs)
    stored = store.analyzed_image_ids(analyzer.name, analyzer.version)
    pending = [item for item in items if item.image_id not in stored]
    outcome.skipped = len(items) - len(pending)
    task = progress.add_task(f"{analyzer.name} {analyzer.version}", total=len(pending))
    size = max(1, analyzer.batch_size)
    batches = [pending[start:start + size] for start in range(0, len(pending), size)]
    for position, batch in enumerate(batches):
        if position + 1 < len(batches):
            analyzer.prefetch(batches[position + 1])
        missing = {item.image_id: f"image file missing: {item.path}" for item in batch if not item.path.is_file()}
        present = [item for item in batch if item.image_id not in missing]
        try:
            result = analyzer.analyze(present, context) if present else AnalysisResult()
        except FatalRunError as exc:
            outcome.error = _message(exc)
            rest = [item.image_id for later in batches[position:] for item in later]
            store.write_analysis(analyzer.name, analyzer.version, [], [], dict.fromkeys(rest, outcome.error))
            outcome.failed += len(rest)
            context.log(f"analyzer {analyzer.name} stopped: {outcome.error}")
            return
        except Exception as exc:  # one broken batch must not stop the run
            result = AnalysisResult(failures={item.image_id: _message(exc) for item in present})
        result.failures.update(missing)
        done = result.done_ids(batch)
        _store_batch(store, analyzer, batch, result, done)
        outcome.done += len(done)
        outcome.failed += len(batch) - len(done)
        outcome.cost_usd += sum(cost.usd for cost in result.costs)
        progress.advance(task, len(batch))


def _store_batch(
    store: RunStore, analyzer: Analyzer, batch: list[ImageItem], result: AnalysisResult, done: list[int],
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


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, ViewfinderError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]analyze[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
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
