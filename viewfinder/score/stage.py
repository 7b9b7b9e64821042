"""The scoring stage: load a run's measurements, score them once, store the results.

``run_scoring`` stores the :class:`~viewfinder.score.model.ScoreReport` and the per-image
adherence (:mod:`viewfinder.score.per_image`); the report and the export read both back.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from viewfinder.providers.fixes import print_failures
from viewfinder.score.aggregate import build_scoring
from viewfinder.score.model import AGGREGATE_NAME, ScoreReport
from viewfinder.score.per_image import ADHERENCE_NAME, image_adherence_record
from viewfinder.study import Study


def run_scoring(store: Any, study: Study, console: Console | None = None) -> ScoreReport:
    """Compute the score report of the run in ``store``, save it as an aggregate and return it."""
    console = console or Console(stderr=True)
    with console.status("scoring: adherence, intervals, agreement, model comparisons"):
        images = store.images()
        table = store.measurement_table()
        specs = store.spec_records()
        report, items, methods = build_scoring(images, table, study, specs)
        adherence = image_adherence_record(images, table, items, methods, study)
    store.save_aggregate(AGGREGATE_NAME, report.to_dict())
    store.save_aggregate(ADHERENCE_NAME, adherence.to_dict())
    if specs and not any(stored.spec.roles for stored in specs):
        console.print(
            "the measurement specs of this run declare no roles (made by an older viewfinder); run "
            f"'viewfinder analyze {store.run_dir}' to register them (nothing is measured again), "
            "then score again"
        )
    if report.dimensions:
        console.print(summary_table(report))
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
                    f"{rate.rate:.2f} [{rate.ci_low:.2f}, {rate.ci_high:.2f}] {rate.verdict} "
                    f"(n={rate.n}, +{rate.n_not_judged} not judged)"
                )
        table.add_row(result.label, *cells)
    return table


def ensure_scored(store: Any, study: Study, console: Console | None = None) -> None:
    """Run the scoring stage when the run has no stored score report yet (``viewfinder report``
    and ``export`` read stored scores; a stored report of another version is left for them to name)."""
    if store.aggregate(AGGREGATE_NAME) is None:
        run_scoring(store, study, console)
