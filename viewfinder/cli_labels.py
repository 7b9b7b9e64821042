"""The bodies of the people-in-the-loop commands (``import``, ``labels import``, ``review``);
:mod:`viewfinder.cli` declares their options and calls these. Each returns the exit code."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from viewfinder.labels.rows import Problem


def print_problems(problems: list[Problem], console: Console) -> None:
    """Print each skipped row (file:line, field, fix) on stderr."""
    for problem in problems:
        console.print(f"[yellow]skipped[/] {escape(str(problem))}")
    if problems:
        console.print(f"{len(problems)} row(s) skipped; fix them and run the same command again (stored rows are kept)")


def import_run(
    images_dir: Path, prompts: Path, labels: Path | None, workdir: Path | None, console: Console, out: Console
) -> int:
    """``viewfinder import``: a run from images made elsewhere, with labels when given."""
    from viewfinder.labels.importer import import_images
    from viewfinder.labels.label_file import import_labels

    folder = workdir or Path("runs") / f"import-{images_dir.resolve().name}"
    store, summary = import_images(images_dir, prompts, folder)
    problems = list(summary.problems)
    with store:
        console.print(f"imported {summary.added} images ({summary.already} already in the run) into {store.run_dir}")
        if labels is not None:
            result = import_labels(store, labels)
            problems += result.problems
            console.print(f"stored {result.stored} labels of {result.images} images")
    print_problems(problems, console)
    out.print(str(store.run_dir), markup=False, highlight=False)
    return 1 if problems else 0


def import_label_file(run_dir: Path, file: Path, console: Console) -> int:
    """``viewfinder labels import``: reference labels from a CSV."""
    from viewfinder.labels.label_file import import_labels
    from viewfinder.store import RunStore

    with RunStore(run_dir, create=False) as store:
        result = import_labels(store, file)
    console.print(f"stored {result.stored} labels of {result.images} images")
    print_problems(result.problems, console)
    return 1 if result.problems else 0


def print_plan(run_dir: Path, width: float, console: Console, out: Console) -> None:
    """``viewfinder review --plan``: how many more labels bring each corrected interval under ``width``."""
    from viewfinder.runfolder import open_run
    from viewfinder.score.aggregate import ordered_models
    from viewfinder.score.people_stage import people_report, plan_lines

    store, loaded = open_run(run_dir)
    with store:
        models = ordered_models({image.model for image in store.images()}, loaded)
        lines = plan_lines(people_report(store, loaded, models, target_width=width))
    for line in lines:
        out.print(line, markup=False, highlight=False)
    if not lines:
        console.print(f"no method answers a dimension yet: run 'viewfinder analyze {run_dir}' first")


def serve(run_dir: Path, sample: int, labeller: str, port: int, show_prompt: bool, console: Console) -> None:
    """``viewfinder review``: serve the review page until Ctrl-C."""
    from viewfinder.labels.review import serve_review
    from viewfinder.runfolder import open_run

    store, loaded = open_run(run_dir)
    with store:
        serve_review(
            store,
            loaded,
            sample=sample,
            labeller=labeller,
            port=port,
            show_prompt=show_prompt,
            console=console,
        )
