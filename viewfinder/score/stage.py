"""The scoring stage: load a run's measurements, score them once, store the results.

``run_scoring`` stores the :class:`~viewfinder.score.model.ScoreReport`, the per-image
adherence (:mod:`viewfinder.score.per_image`) and every method against people's labels
(:mod:`viewfinder.score.people_stage`); the report and the export read them back.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from viewfinder.providers.fixes import print_failures
from viewfinder.score.aggregate import build_scoring
from viewfinder.score.model import AGGREGATE_NAME, ScoreReport
from viewfinder.score.people_stage import people_out_of_date, print_people, score_people
from viewfinder.score.per_image import ADHERENCE_NAME, image_adherence_record
from viewfinder.study import Study


def run_scoring(
    store: Any, study: Study, console: Console | None = None, *, tables: Console | None = None
) -> ScoreReport:
    """Compute the score report of the run in ``store``, save it as an aggregate and return it.
    Notes go to ``console``, the adherence table to ``tables`` (default ``console``; ``viewfinder
    score`` prints it on stdout)."""
    console = console or Console(stderr=True)
    with console.status("scoring: adherence, intervals, agreement, model comparisons"):
        images = store.images()
        table = store.measurement_table()
        specs = store.spec_records()
        report, items, methods = build_scoring(images, table, study, specs)
        adherence = image_adherence_record(images, table, items, methods, study)
    # every method that answers a dimension against people's labels; verdicts people disagree with go
    people, report = score_people(store, study, report, (images, table, items), methods)
    store.save_aggregate(AGGREGATE_NAME, report.to_dict())
    store.save_aggregate(ADHERENCE_NAME, adherence.to_dict())
    if specs and not any(stored.spec.roles for stored in specs):
        console.print(
            "the measurement specs of this run declare no roles (made by an older viewfinder); run "
            f"'viewfinder analyze {store.run_dir}' to register them (nothing is measured again), "
            "then score again"
        )
    if report.dimensions:
        (tables or console).print(summary_table(report))
    else:
        failed = [group for group in store.failure_groups() if group.stage == "analyze"]
        if failed:
            console.print(
                f"scored {report.n_images} images, but no adherence measurements are stored: the analyzers failed",
                markup=False,
            )
            print_failures(console, failed, "analyze")
            console.print(f"fix that, then run 'viewfinder analyze {store.run_dir}' again", markup=False)
        else:
            console.print(
                f"scored {report.n_images} images, but no adherence measurements are stored yet; "
                f"run 'viewfinder analyze {store.run_dir}' first",
                markup=False,
            )
    print_people(people, console)
    return report


def summary_table(report: ScoreReport) -> Table:
    """Adherence per dimension and model, as the terminal shows it after scoring."""
    table = Table(title=f"adherence, {report.n_images} images (share of judged images, 95% CI)")
    table.add_column("dimension")
    for model in report.models:
        table.add_column(model, overflow="fold")
    for result in report.dimensions:
        cells = []
        for model in report.models:
            rate = result.per_model.get(model)
            if rate is None or rate.n + rate.n_not_judged == 0:
                cells.append("not asked")
            elif rate.rate is None:
                cells.append(f"not judged ({rate.n_not_judged} images)")
            else:
                cells.append(
                    f"{rate.rate:.2f} [{rate.ci_low:.2f}, {rate.ci_high:.2f}] {rate.verdict or '(no verdict)'} "
                    f"(n={rate.n}, +{rate.n_not_judged} not judged)"
                )
        table.add_row(result.label, *cells)
    return table


def is_scored(store: Any) -> bool:
    """Whether the run has a stored score report (of any version)."""
    return store.aggregate(AGGREGATE_NAME) is not None


def needs_scoring(store: Any) -> bool:
    """Whether the run has no stored score report yet, or people's labels changed since it was stored."""
    return not is_scored(store) or people_out_of_date(store)


def ensure_scored(store: Any, study: Study, console: Console | None = None) -> None:
    """Run the scoring stage when :func:`needs_scoring` (``viewfinder report`` and ``export`` read
    stored scores; a stored report of another version is left for them to name)."""
    if needs_scoring(store):
        run_scoring(store, study, console)
