"""The scoring stage's people step: measure every method against the run's reference labels,
store the :class:`PeopleReport`, withhold the verdicts of methods people disagree with, and
print agreement, corrected rates and how many more labels would narrow them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from viewfinder.score.adherence import DimensionMethod, ImageAdherence, present_methods
from viewfinder.score.model import ScoreReport
from viewfinder.score.people import build_people_report
from viewfinder.score.people_model import PEOPLE_AGGREGATE, TRUST_KAPPA, PeopleReport
from viewfinder.store import ImageRecord
from viewfinder.store.labels import NO_LABELS
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
        rates += [row["rate"] for breakdown in result["breakdowns"] for row in breakdown["rows"] if row.get("rate")]
        for rate in rates:
            rate["verdict"] = None
    labels = ", ".join(f"{d} ({m})" for d, m in sorted(distrusted))
    body["notes"].append(f"No verdict word for {labels}: its kappa with people's labels is below {TRUST_KAPPA}.")
    return ScoreReport.model_validate(body)


def people_report(store: Any, study: Study, models: list[str], *, target_width: float = 0.1) -> PeopleReport:
    """The people report of the run in ``store`` (``RunStore``), computed now and not stored
    (``review --plan`` with its own target width)."""
    table = store.measurement_table()
    methods = present_methods(table, store.spec_records())
    return build_people_report(store.images(), table, study, store.labels(), methods, models, target_width=target_width)


def score_people(
    store: Any,
    study: Study,
    report: ScoreReport,
    scoring: tuple[Sequence[ImageRecord], Mapping[int, Mapping[str, Any]], Sequence[ImageAdherence]],
    methods: Sequence[DimensionMethod],
) -> tuple[PeopleReport, ScoreReport]:
    """The scoring stage's people step: every method in ``methods`` against the run's labels
    (``scoring`` = the images, measurement table and adherence the stage already has). Stores the
    people report (with the labels it used) and returns it with ``report`` minus the verdicts of
    the methods people disagree with."""
    images, table, items = scoring
    people = build_people_report(images, table, study, store.labels(), methods, report.models, items=items)
    people.labels_stamp = store.labels_stamp()
    store.save_aggregate(PEOPLE_AGGREGATE, people.to_dict())
    return people, withhold_verdicts(report, people.distrusted())


def print_people(people: PeopleReport, console: Console) -> None:
    """Agreement with people and the labelling plan, when the run has labels."""
    if people.labels:
        console.print(people_table(people))
        for line in plan_lines(people):
            console.print(line, markup=False, highlight=False)


def people_out_of_date(store: Any) -> bool:
    """True when the labels stored now are not those the stored people report was computed from
    (labels were imported or given in the review page since scoring; no report counts as no labels)."""
    body = store.aggregate(PEOPLE_AGGREGATE)
    used = body.get("labels_stamp") if isinstance(body, dict) else NO_LABELS
    return bool(used != store.labels_stamp())


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
            now = "no interval yet" if width is None else f"now {width:.2f} wide with {rate.n_labelled} labels"
            if rate.more_labels is None:
                more = "labels cannot narrow it that far (too few images)"
            elif rate.more_labels == 0:
                more = "already there"
            else:
                more = f"about {rate.more_labels} more labels"
            out.append(f"plan: {item.label}, {who}: {now}; under {people.target_width:.2f}: {more}")
    return out
