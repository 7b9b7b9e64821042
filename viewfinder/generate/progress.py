"""What the generation stage shows and returns: the live progress line, the dry-run table and
the summary."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from viewfinder.providers.budget import JudgePlan
from viewfinder.providers.fixes import print_failures
from viewfinder.store import FailureGroup, JobRecord

REFRESH_S = 0.05  # progress counts go to rich at most this often (it redraws at 4 Hz)
UNPRICED = "unpriced"  # shown (and stored as the ledger's price) where no price is known: never a silent $0


@dataclass
class GenerationSummary:
    """What one generation stage did."""

    planned: int = 0
    completed: int = 0
    failed: int = 0
    skipped: int = 0  # not submitted: the budget would have been passed
    images: int = 0
    retries: int = 0
    cost_usd: float = 0.0
    estimated_cost_usd: float = 0.0
    elapsed_s: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)
    unpriced: list[str] = field(default_factory=list)  # models without a known price (booked at $0)

    def cost_text(self, usd: float) -> str:
        """``$0.0123``, with "+ unpriced" when some of the money is not known."""
        return f"${usd:.4f}" + (f" + {UNPRICED} ({', '.join(self.unpriced)})" if self.unpriced else "")


def dry_run_summary(
    jobs: list[JobRecord],
    estimates: dict[str, float],
    spent_usd: float,
    console: Console,
    unpriced: list[str] | None = None,
    judge: JudgePlan | None = None,
    to_judge: int = 0,
) -> GenerationSummary:
    """Print the jobs a run would make and their estimated cost (the judge pass's too); call nothing."""
    unpriced = unpriced or []
    table = Table(title=f"{len(jobs)} jobs to run (dry run: nothing is called)")
    for column in ("job", "state", "model", "seed", "USD", "prompt"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        usd = UNPRICED if job.model in unpriced else f"{estimates[job.id]:.4f}"
        cells = (job.id, job.state, job.model, str(job.seed), usd, job.prompt_text)
        table.add_row(*(Text(cell) for cell in cells))  # prompt text is data, never rich markup
    console.print(table)
    total = sum(estimates.values())
    summary = GenerationSummary(planned=len(jobs), estimated_cost_usd=round(total, 6), unpriced=unpriced)
    console.print(
        f"estimated cost: {summary.cost_text(total)} for {len(jobs)} images; spent so far: ${spent_usd:.4f}",
        markup=False,
    )
    if judge is not None:
        judged = judge.cost_of(to_judge)
        console.print(
            f"estimated judge cost: ${judged:.4f} for {to_judge} images with {judge.judge} "
            f"(~${judge.per_image_usd:.4f} each, a cautious estimate)"
            if judged is not None
            else f"estimated judge cost: {UNPRICED} ({judge.judge} has no known price; {judge.price_fix})",
            markup=False,
        )
    return summary


class GenerationProgress:
    """The live progress line over ``summary``: counts reach rich at most every REFRESH_S."""

    def __init__(self, summary: GenerationSummary, console: Console) -> None:
        self.summary = summary
        self.console = console
        self.in_flight = 0
        self.refresh_pending = False
        self.started = time.perf_counter()
        self.progress = Progress(
            TextColumn("generate"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("failed {task.fields[failed]}  in flight {task.fields[in_flight]}"),
            TextColumn("{task.fields[rate]:.2f} img/s  {task.fields[cost]}"),
            TimeElapsedColumn(),
            console=console,
            refresh_per_second=4,
        )

    def __enter__(self) -> GenerationProgress:
        self.progress.__enter__()
        self.task = self.progress.add_task(
            "generate",
            total=self.summary.planned,
            failed=0,
            in_flight=0,
            rate=0.0,
            cost=self.summary.cost_text(0.0),
        )
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.__exit__(kind, exc, tb)

    def note(self, message: Text | str) -> None:
        """A line above the progress bar."""
        self.progress.console.print(message, highlight=False)

    def add_in_flight(self, delta: int) -> None:
        self.in_flight += delta
        self.refresh()

    def refresh(self, final: bool = False) -> None:
        """Show the counts REFRESH_S after a change (changes meanwhile join it), or now at the end."""
        if final:
            self._show()
        elif not self.refresh_pending:
            self.refresh_pending = True
            asyncio.get_running_loop().call_later(REFRESH_S, self._show)

    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started

    def _show(self) -> None:
        self.refresh_pending = False
        elapsed = max(self.elapsed_s(), 1e-6)
        s = self.summary
        self.progress.update(
            self.task,
            completed=s.completed + s.failed + s.skipped,
            failed=s.failed,
            in_flight=self.in_flight,
            rate=s.images / elapsed,
            cost=s.cost_text(s.cost_usd),
        )


def print_summary(
    summary: GenerationSummary, total_cost_usd: float, console: Console, failures: Sequence[FailureGroup] = ()
) -> None:
    """The stage's last lines: counts and money, then every failure reason with its count and fix."""
    s = summary
    console.print(
        f"generate: {s.completed} completed, {s.failed} failed, {s.skipped} not submitted (budget), "
        f"{s.images} image{'s' if s.images != 1 else ''} in {s.elapsed_s:.1f} s, {s.cost_text(s.cost_usd)} this run, "
        f"${total_cost_usd:.4f} in total",
        markup=False,
        highlight=False,
    )
    if s.failed:
        print_failures(console, [group for group in failures if group.stage == "generate"], "generate")
