"""The ``viewfinder`` command line: a thin typer app over the pipeline stages."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console
from rich.table import Table

from viewfinder.errors import ViewfinderError
from viewfinder.study import expand_prompts, load_study, parse_prompt

app = typer.Typer(
    help="Reproducible studies of how text-to-image models follow structured prompts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True, highlight=False)
out = Console(soft_wrap=True, highlight=False)


def friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Show :class:`ViewfinderError` as one message with its exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ViewfinderError as exc:
            console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: everything finished so far is stored; run again to resume[/]")
            raise typer.Exit(130) from None

    return wrapper


@app.command()
@friendly
def expand(
    study: Path = typer.Argument(..., help="Study file (TOML)."),
    format: str = typer.Option("table", "--format", help="table or jsonl."),
) -> None:
    """Print the prompt grid of STUDY."""
    if format not in {"table", "jsonl"}:
        raise typer.BadParameter("use table or jsonl", param_hint="--format")
    prompts = expand_prompts(load_study(study))
    if format == "jsonl":
        for prompt in prompts:
            sys.stdout.write(json.dumps(prompt.as_dict(), ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{len(prompts)} prompts")
    for column in ("#", "emotion", "variant", "camera", "style", "text"):
        table.add_column(column, overflow="fold")
    for prompt in prompts:
        table.add_row(str(prompt.position + 1), prompt.emotion, prompt.variant, prompt.camera, prompt.style, prompt.text)
    out.print(table)


@app.command()
@friendly
def prompt(
    text: str = typer.Argument(..., help="A prompt in the study grammar."),
    as_json: bool = typer.Option(False, "--json", help="Print the fields as JSON."),
) -> None:
    """Parse one prompt in the grammar and show its fields."""
    fields = parse_prompt(text).fields()
    if as_json:
        sys.stdout.write(json.dumps(fields, ensure_ascii=False) + "\n")
        return
    table = Table(show_header=False)
    for key, value in fields.items():
        table.add_row(key, value)
    out.print(table)


@app.command()
@friendly
def status(
    run_dir: Path = typer.Argument(..., help="Run folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Jobs per state, images and cost so far."""
    from viewfinder.store import RunStore

    with RunStore(run_dir, create=False) as store:
        info = store.status()
    if as_json:
        sys.stdout.write(json.dumps(info) + "\n")
        return
    table = Table(title=f"{info['run_dir']} ({info['study']})", show_header=False)
    for state, count in info["jobs"].items():
        table.add_row(f"jobs {state}", str(count))
    table.add_row("images", str(info["images"]))
    for kind, usd in info["cost_usd"].items():
        table.add_row(f"cost {kind}", f"${usd:.4f}")
    out.print(table)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
