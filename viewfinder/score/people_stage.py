"""The scoring stage's people step: measure every method against the run's reference labels,
store the :class:`PeopleReport`, withhold the verdicts of methods people disagree with, and
print agreement, corrected rates and how many more labels would narrow them."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from viewfinder.score.adherence import present_methods
from viewfinder.score.model import AGGREGATE_NAME, ScoreReport
from viewfinder.score.people import build_people_report
from viewfinder.score.people_model import PEOPLE_AGGREGATE, TRUST_KAPPA, PeopleReport
from viewfinder.store.labels import labels as stored_labels
from viewfinder.study import Study


def withhold_verdicts(report: ScoreReport, distrusted: set[tuple[str, str]]) -> ScoreReport:
    """``report`` with no verdict word on the rates of the methods in ``distrusted``."""
    if not distrusted:
        return report
    body = report.to_dict()
    for result in body["dimensions"]:
        if (result["dimension"], result["method"]) not in distrusted:
            continue
        rates = [result["overall"], *result["per_model"].values()]
        rates += [
            row["rate"] for breakdown in result["breakdowns"] for row in breakdown["rows"] if row.get("rate")
        ]
        for rate in rates:
            rate["verdict"] = None
    labels = ", ".join(f"{d} ({m})" for d, m in sorted(distrusted))
    body["notes"].append(
        f"No verdict word for {labels}: its kappa with people's labels is below {TRUST_KAPPA}."
    )
    return ScoreReport.model_validate(body)


def people_report(store: Any, study: Study, models: list[str], *, target_width: float = 0.1) -> PeopleReport:
    """The people report of the run in ``store`` (not stored)."""
    table = store.measurement_table()
    return build_people_report(
        store.images(),
        table,
        study,
        stored_labels(store),
        present_methods(table),
        models,
        target_width=target_width,
    )


def run_people_scoring(
    store: Any,
    study: Study,
    report: ScoreReport,
    console: Console | None = None,
    *,
    target_width: float = 0.1,
) -> tuple[PeopleReport, ScoreReport]:
    """Store the people report and the score report with distrusted verdicts withheld; print them."""
    console = console or Console(stderr=True)
    people = people_report(store, study, report.models, target_width=target_width)
    store.save_aggregate(PEOPLE_AGGREGATE, people.to_dict())
    trusted = withhold_verdicts(report, people.distrusted())
    if trusted is not report:
        store.save_aggregate(AGGREGATE_NAME, trusted.to_dict())
    if people.labels:
        console.print(people_table(people))
        for line in plan_lines(people):
            console.print(line, markup=False, highlight=False)
    return people, trusted


def _interval(value: float | None, low: float | None, high: float | None) -> str:
    if value is None:
        return "n/a"
    if low is None or high is None:
        return f"{value:.2f}"
    return f"{value:.2f} [{low:.2f}, {high:.2f}]"


def people_table(people: PeopleReport) -> Table:
    """Agreement with people and the corrected rate (all models) per dimension and method."""
    table = Table(
        title=f"against people: {people.labels} labels of {people.labelled_images} images by "
        f"{len(people.labellers)} labeller(s) (95% CI)"
    )
    for column in ("dimension (method)", "n", "accuracy", "kappa", "raw rate", "corrected rate", "labels"):
        table.add_column(column, overflow="fold")
    for item in people.methods:
        pooled = item.corrected[-1]
        kappa = _interval(item.kappa, item.kappa_low, item.kappa_high)
        if item.trusted is False:
            kappa += " no verdict"
        table.add_row(
            item.label,
            str(item.n),
            _interval(item.accuracy, item.accuracy_low, item.accuracy_high),
            kappa,
            _interval(pooled.raw_rate, None, None),
            _interval(pooled.rate, pooled.ci_low, pooled.ci_high),
            str(pooled.n_labelled),
        )
    for alpha in people.labellers_agreement:
        table.add_row(
            f"labellers on {alpha.dimension} (Krippendorff's alpha)",
            str(alpha.images),
            "",
            _interval(alpha.alpha, alpha.ci_low, alpha.ci_high),
            "",
            "",
            "",
        )
    return table


def plan_lines(people: PeopleReport) -> list[str]:
    """How many more labels bring each corrected interval under the target width."""
    out = []
    for item in people.methods:
        for rate in item.corrected:
            who = "all models" if rate.model == "*" else rate.model
            width = None if rate.ci_low is None or rate.ci_high is None else rate.ci_high - rate.ci_low
            now = (
                "no interval yet" if width is None else f"now {width:.2f} wide with {rate.n_labelled} labels"
            )
            if rate.more_labels is None:
                more = "labels cannot narrow it that far (too few images)"
            elif rate.more_labels == 0:
                more = "already there"
            else:
                more = f"about {rate.more_labels} more labels"
            out.append(f"plan: {item.label}, {who}: {now}; under {people.target_width:.2f}: {more}")
    return out
