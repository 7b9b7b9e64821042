"""Options that several ``viewfinder`` commands share (one definition, one help text), the
error display every command gets, and small option parsers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

from viewfinder.errors import ViewfinderError

if TYPE_CHECKING:
    from viewfinder.generate.options import GenerateOptions
    from viewfinder.providers.budget import JudgePlan

console = Console(stderr=True, soft_wrap=True, highlight=False)
out = Console(soft_wrap=True, highlight=False)

RUN_DIR = typer.Argument(..., help="Run folder.")
LIMIT = typer.Option(None, "--limit", min=1, help="Only the first N jobs of the study (grid order).")
MAX_COST = typer.Option(None, "--max-cost", min=0, help="Stop before spending more than USD in total.")
CONCURRENCY = typer.Option(8, "--concurrency", min=1, max=1024, help="Requests in flight at once.")
DRY_RUN = typer.Option(False, "--dry-run", help="List the jobs and the estimated cost; call nothing.")
TIMEOUT = typer.Option(60.0, "--timeout", min=1, help="Seconds before one HTTP request to a provider times out.")
ANALYZERS = typer.Option(None, "--analyzers", help="Comma-separated analyzers (default: the study's).")
AS_JSON = typer.Option(False, "--json", help="Print JSON instead of text.")
JUDGE = typer.Option(None, "--judge", help="VLM judge, e.g. openai:gpt-4o-mini, fal:..., hf:<model>.")
ALLOW_UNPRICED = typer.Option(
    False,
    "--allow-unpriced",
    help="With --max-cost, also run models without a known price (their cost is not limited).",
)
EXECUTOR = typer.Option("local", "--executor", help="Where analysis batches and diffusers models run: local or ray.")
RAY_ADDRESS = typer.Option(None, "--ray-address", help="Ray cluster to join (default: a local Ray).")


def friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Show :class:`ViewfinderError` as one message with its exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ViewfinderError as exc:
            console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: everything finished so far is stored; run again to resume[/]")
            raise typer.Exit(130) from None

    return wrapper


def check_judge(judge: str | None) -> None:
    """A --judge of an unknown kind is bad input before any work starts."""
    if judge is not None:
        from viewfinder.judge.select import check_judge_name

        check_judge_name(judge)


def names(value: str | None) -> list[str] | None:
    """Split a comma-separated option; None keeps the study's default."""
    if value is None:
        return None
    return [name.strip() for name in value.split(",") if name.strip() and name.strip() != "none"]


def generate_options(
    limit: int | None,
    max_cost: float | None,
    concurrency: int,
    dry_run: bool,
    timeout: float,
    allow_unpriced: bool,
    executor: str,
    ray_address: str | None,
    judge: JudgePlan | None = None,
) -> GenerateOptions:
    """What the generation options that ``run`` and ``generate`` share ask of the generation stage."""
    from viewfinder.generate.options import GenerateOptions

    return GenerateOptions(
        limit=limit,
        max_cost=max_cost,
        concurrency=concurrency,
        dry_run=dry_run,
        timeout_s=timeout,
        allow_unpriced=allow_unpriced,
        executor=executor,
        ray_address=ray_address,
        judge=judge,
    )
