"""The ``viewfinder`` command line: a thin typer app over the pipeline stages."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from viewfinder.cli_options import (
    ALLOW_UNPRICED,
    ANALYZERS,
    AS_JSON,
    CONCURRENCY,
    DRY_RUN,
    EXECUTOR,
    JUDGE,
    LIMIT,
    MAX_COST,
    RAY_ADDRESS,
    RUN_DIR,
    TIMEOUT,
    check_judge,
    console,
    friendly,
    generate_options,
    names,
    out,
)
from viewfinder.providers.budget import check_max_cost

app = typer.Typer(
    help="Reproducible studies of how text-to-image models follow structured prompts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.command()
@friendly
def expand(
    study: Path = typer.Argument(..., help="Study file (TOML)."),
    format: str = typer.Option("table", "--format", help="table or jsonl."),
) -> None:
    """Print the prompt grid of STUDY."""
    from viewfinder.cli_study import print_grid

    print_grid(study, format)


@app.command()
@friendly
def prompt(
    text: str = typer.Argument(..., help="A prompt in the study grammar."),
    as_json: bool = AS_JSON,
) -> None:
    """Parse one prompt in the grammar and show its fields."""
    from viewfinder.cli_study import print_prompt

    print_prompt(text, as_json)


STAGES = ("generate", "analyze", "score", "report")


@app.command()
@friendly
def run(
    study: Path = typer.Argument(..., help="Study file (TOML)."),
    workdir: Path | None = typer.Option(None, "--workdir", help="Run folder (default runs/<study name>)."),
    model: list[str] = typer.Option([], "--model", help="backend:model-id; repeat for several (default: the study's)."),
    limit: int | None = LIMIT,
    max_cost: float | None = MAX_COST,
    concurrency: int = CONCURRENCY,
    dry_run: bool = DRY_RUN,
    timeout: float = TIMEOUT,
    analyzers: str | None = ANALYZERS,
    judge: str | None = JUDGE,
    until: str = typer.Option("report", "--until", help="Last stage to run: generate, analyze, score or report."),
    allow_unpriced: bool = ALLOW_UNPRICED,
    executor: str = EXECUTOR,
    ray_address: str | None = RAY_ADDRESS,
) -> None:
    """Generate, analyze, score and report a study; resumes where an earlier run stopped."""
    from viewfinder.generate.runner import GenerateOptions, run_generation
    from viewfinder.runfolder import init_run, peek_run

    if until not in STAGES:
        raise typer.BadParameter(f"use one of {', '.join(STAGES)}", param_hint="--until")
    check_judge(judge)
    check_max_cost(max_cost)
    models = list(model) or None

    def options_for(loaded: Any) -> GenerateOptions:
        from viewfinder.analyze.plan import plan_judge

        plan = None if until == "generate" else plan_judge(loaded, names(analyzers), judge)
        return generate_options(
            limit, max_cost, concurrency, dry_run, timeout, allow_unpriced, executor, ray_address, plan
        )

    if dry_run:  # writes nothing, not even the folder
        peeked, loaded = peek_run(study, workdir)
        try:
            run_generation(peeked, loaded, options_for(loaded), console, models)
        finally:
            if peeked is not None:
                peeked.close()
        raise typer.Exit(0)
    store, loaded = init_run(study, workdir, models)
    with store:
        options = options_for(loaded)
        if until == "generate":
            raise typer.Exit(1 if run_generation(store, loaded, options, console, models).failed else 0)
        from viewfinder.pipeline import generate_and_analyze

        generated, analysis = generate_and_analyze(
            store, loaded, options, names(analyzers), judge=judge, console=console, models=models
        )
        failed = generated.failed + analysis.failed
        if until == "analyze":
            raise typer.Exit(1 if failed else 0)
        from viewfinder.score import run_scoring

        run_scoring(store, loaded, console)
        if until == "score":
            raise typer.Exit(1 if failed else 0)
        from viewfinder.report import build_report

        build_report(store, loaded, console)
    raise typer.Exit(1 if failed else 0)


@app.command()
@friendly
def status(
    run_dir: Path = RUN_DIR,
    as_json: bool = AS_JSON,
) -> None:
    """Jobs per state, images, cost so far and failures grouped by reason (with the fix)."""
    from viewfinder.cli_status import print_status

    print_status(run_dir, as_json)


@app.command()
@friendly
def analyze(
    run_dir: Path = RUN_DIR,
    analyzers: str | None = ANALYZERS,
    judge: str | None = JUDGE,
    max_cost: float | None = MAX_COST,
    allow_unpriced: bool = ALLOW_UNPRICED,
    executor: str = EXECUTOR,
    ray_address: str | None = RAY_ADDRESS,
) -> None:
    """Measure the run's images; skips what the same analyzer version already stored."""
    from viewfinder.analyze.executors import make_executor
    from viewfinder.analyze.runner import run_analysis
    from viewfinder.runfolder import open_run

    check_judge(judge)
    check_max_cost(max_cost)
    store, loaded = open_run(run_dir)
    with store:
        runs_on = make_executor(executor, loaded.analysis, ray_address)
        summary = run_analysis(
            store,
            loaded,
            names(analyzers),
            judge=judge,
            max_cost=max_cost,
            console=console,
            executor=runs_on,
            allow_unpriced=allow_unpriced,
        )
    raise typer.Exit(1 if summary.failed else 0)


models_app = typer.Typer(help="Model weights used by the analyzers.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("fetch")
@friendly
def models_fetch(
    study: Path | None = typer.Argument(
        None, help="Study file whose [analysis] models to fetch (default: the defaults)."
    ),
    model: list[str] = typer.Option(
        [], "--model", help="A hub id (or owner/repo/file.pth) to fetch; repeat for several."
    ),
) -> None:
    """Download analyzer weights into the Hugging Face cache, for later offline runs."""
    from viewfinder.analyze.models import fetch_models, required_models
    from viewfinder.study import load_study
    from viewfinder.study.schema import Analysis

    settings = load_study(study).analysis if study else Analysis()
    for ref, path in fetch_models(list(model) or required_models(settings), console=console):
        sys.stdout.write(f"{ref}\t{path}\n")


@app.command()
@friendly
def generate(
    run_dir: Path = RUN_DIR,
    limit: int | None = LIMIT,
    max_cost: float | None = MAX_COST,
    concurrency: int = CONCURRENCY,
    dry_run: bool = DRY_RUN,
    timeout: float = TIMEOUT,
    allow_unpriced: bool = ALLOW_UNPRICED,
    executor: str = EXECUTOR,
    ray_address: str | None = RAY_ADDRESS,
) -> None:
    """Make the missing images of the study stored in the run folder; resumes submitted requests."""
    from viewfinder.generate.runner import run_generation
    from viewfinder.runfolder import open_run

    check_max_cost(max_cost)
    store, loaded = open_run(run_dir, readonly=dry_run)
    with store:
        options = generate_options(
            limit, max_cost, concurrency, dry_run, timeout, allow_unpriced, executor, ray_address
        )
        summary = run_generation(store, loaded, options, console)
    raise typer.Exit(1 if summary.failed else 0)


@app.command()
@friendly
def score(
    run_dir: Path = RUN_DIR,
    as_json: bool = typer.Option(False, "--json", help="Also print the score report as JSON on stdout."),
    conclusions: bool = typer.Option(False, "--conclusions", help="Also print the conclusion sentences."),
) -> None:
    """Compute adherence, intervals, agreement and model comparisons; store them for the report."""
    from viewfinder.runfolder import open_run
    from viewfinder.score import report_sentences, run_scoring

    store, loaded = open_run(run_dir)
    with store:
        report = run_scoring(store, loaded, console, tables=out)
    if conclusions:
        for sentence in report_sentences(report):
            out.print(f"- {sentence.text}", markup=False, highlight=False)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict()) + "\n")


@app.command()
@friendly
def report(run_dir: Path = RUN_DIR) -> None:
    """Write report/index.html and report/post.md.

    index.html is one file that works copied alone: every image is inside it, down-scaled (at most
    480 px and 150 kB each; a large run shares 24 MB), and so are the plots, styles and script;
    a click on an image opens the full-size file, which stays in the run folder. post.md links the
    images (../images/) and plots (plots/) relatively: publish it together with those folders.
    """
    from viewfinder.report import build_report
    from viewfinder.runfolder import open_scored

    store, loaded = open_scored(run_dir, console)
    with store:
        folder = build_report(store, loaded, console)
    out.print(str(folder / "index.html"))


@app.command()
@friendly
def export(
    run_dir: Path = RUN_DIR,
    format: str = typer.Option(..., "--format", help="parquet, csv or jsonl."),
    output: Path | None = typer.Option(None, "--output", help="File to write (default DIR/export.<format>)."),
) -> None:
    """Write one row per image with every measurement, judge answer and adherence flag."""
    from viewfinder.export import export_run
    from viewfinder.runfolder import open_scored

    store, loaded = open_scored(run_dir, console)
    with store:
        path, count = export_run(store, loaded, format, output)
    console.print(f"wrote {count} rows to {path}")
    out.print(str(path), markup=False, highlight=False)


@app.command("import")
@friendly
def import_(
    images_dir: Annotated[Path, typer.Argument(help="Folder the image paths are relative to.")],
    prompts: Annotated[Path, typer.Option("--prompts", help="CSV or JSON lines: image, prompt, model, seed")],
    labels: Annotated[Path | None, typer.Option("--labels", help="CSV of reference labels.")] = None,
    workdir: Annotated[Path | None, typer.Option("--workdir", help="Run folder (runs/import-<dir>)")] = None,
) -> None:
    """Make a run from images made elsewhere; analyze, score, report and export then work on it."""
    from viewfinder.cli_labels import import_run

    raise typer.Exit(import_run(images_dir, prompts, labels, workdir, console, out))


labels_app = typer.Typer(help="Reference labels given by people.", no_args_is_help=True)
app.add_typer(labels_app, name="labels")


@labels_app.command("import")
@friendly
def labels_import(
    run_dir: Annotated[Path, typer.Argument(help="Run folder.")],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: image, labeller and any of camera_angle, shot_size, expression, scene_match, style_match."
        ),
    ],
) -> None:
    """Store reference labels from a CSV (a labeller's new answer replaces their old one)."""
    from viewfinder.cli_labels import import_label_file

    raise typer.Exit(import_label_file(run_dir, file, console))


@app.command()
@friendly
def review(
    run_dir: Annotated[Path, typer.Argument(help="Run folder.")],
    sample: Annotated[int, typer.Option("--sample", min=1, help="Images to label (stratified).")] = 50,
    labeller: Annotated[str, typer.Option("--labeller", help="Your name (default: $USER).")] = "",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any).")] = 0,
    show_prompt: Annotated[bool, typer.Option("--show-prompt", help="Show the requested values.")] = False,
    plan: Annotated[
        bool,
        typer.Option(
            "--plan", help="Print how many more labels each corrected interval needs to be under --width, and exit."
        ),
    ] = False,
    width: Annotated[float, typer.Option("--width", min=0.001, max=1, help="Target interval width.")] = 0.1,
) -> None:
    """Label a sample of the run's images in a local web page (answers are stored at once)."""
    from viewfinder import cli_labels

    if plan:
        cli_labels.print_plan(run_dir, width, console, out)
    else:
        cli_labels.serve(run_dir, sample, labeller, port, show_prompt, console)


@app.command()
@friendly
def prune(run_dir: Path = RUN_DIR) -> None:
    """Drop the jobs the stored study no longer asks for, with their image rows and measurements
    (image files and the cost ledger stay)."""
    from viewfinder.cli_prune import prune_run

    prune_run(run_dir, out)


def _print_version(value: bool) -> None:
    if value:
        from viewfinder import __version__

        out.print(f"viewfinder {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Reproducible studies of how text-to-image models follow structured prompts."""


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
