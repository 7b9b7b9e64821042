"""What the generation stage shows and returns: the live progress line, the dry-run table and
the summary."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from viewfinder.store import JobRecord

REFRESH_S = 0.05  # progress counts go to rich at most this often (it redraws at 4 Hz)


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


def dry_run_summary(
    jobs: list[JobRecord], estimates: dict[str, float], spent_usd: float, console: Console
) -> GenerationSummary:
    """Print the jobs a run would make and their estimated cost; call nothing."""
    table = Table(title=f"{len(jobs)} jobs to run (dry run: nothing is called)")
    for column in ("job", "state", "model", "seed", "USD", "prompt"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        cells = (job.id, job.state, job.model, str(job.seed), f"{estimates[job.id]:.4f}", job.prompt_text)
        table.add_row(*(Text(cell) for cell in cells))  # prompt text is data, never rich markup
    console.print(table)
    total = sum(estimates.values())
    console.print(f"estimated cost: ${total:.4f} for {len(jobs)} images; spent so far: ${spent_usd:.4f}")
    return GenerationSummary(planned=len(jobs), estimated_cost_usd=round(total, 6))


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
            TextColumn("{task.fields[rate]:.2f} img/s  ${task.fields[cost]:.4f}"),
            TimeElapsedColumn(),
            console=console,
            refresh_per_second=4,
        )

    def __enter__(self) -> GenerationProgress:
        self.progress.__enter__()
        self.task = self.progress.add_task(
            "generate", total=self.summary.planned, failed=0, in_flight=0, rate=0.0, cost=0.0
        )
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
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
            cost=s.cost_usd,
        )


def print_summary(summary: GenerationSummary, total_cost_usd: float, console: Console) -> None:
    s = summary
    console.print(
        f"generate: {s.completed} completed, {s.failed} failed, {s.skipped} not submitted (budget), "
        f"{s.images} image{'s' if s.images != 1 else ''} in {s.elapsed_s:.1f} s, ${s.cost_usd:.4f} this run, "
        f"${total_cost_usd:.4f} in total"
    )
    for job_id, error in list(s.errors.items())[:10]:
        console.print(f"  failed {job_id}: {error}", markup=False, highlight=False)
