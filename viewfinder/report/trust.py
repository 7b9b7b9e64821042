"""The report section "Can these numbers be trusted?": per dimension and method, agreement
with people's reference labels and the adherence rate corrected with them.

Read from the stored people report (the scoring stage writes it). Verdict words come only
from the verdict table; a method whose kappa with people is below 0.4 gets none at all (its
raw and corrected rates are shown as numbers only, and the headline skips it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from viewfinder.score.people_model import TRUST_KAPPA, CorrectedRate, MethodVsPeople, load_people_report
from viewfinder.score.verdicts import verdict


def _n(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _ci(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    return f"95% CI {low:.2f} to {high:.2f}" if low < 0 else f"95% CI {low:.2f}-{high:.2f}"


@dataclass(frozen=True)
class TrustRow:
    """One method on one dimension, for one model or all ('*')."""

    label: str
    model: str
    n_compared: int
    accuracy: str
    kappa: str
    kappa_word: str | None
    raw_rate: str
    corrected: str
    corrected_word: str | None
    labelled: int
    trusted: bool | None


@dataclass
class TrustSection:
    """What the section shows: sentences, the table, confusion matrices, labellers' agreement."""

    labels: int
    labelled_images: int
    labellers: list[str]
    sentences: list[str] = field(default_factory=list)
    rows: list[TrustRow] = field(default_factory=list)
    matrices: list[MethodVsPeople] = field(default_factory=list)
    alphas: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _method_sentence(item: MethodVsPeople) -> str:
    if item.kappa is None:
        return (
            f"{item.label} could not be compared with people: {item.n} images have both a label and an "
            "answer from the method."
        )
    text = (
        f"{item.label} against people on {item.n} images: accuracy {_n(item.accuracy)} "
        f"({_ci(item.accuracy_low, item.accuracy_high)}); Cohen's kappa scored {_n(item.kappa)} "
        f"({_ci(item.kappa_low, item.kappa_high)}), which is {verdict('kappa', item.kappa)}."
    )
    if item.trusted is False:
        text += (
            f" With kappa below {TRUST_KAPPA}, this method gets no verdict word in this report and no "
            "headline rests on it."
        )
    return text


def _rate_sentence(item: MethodVsPeople, rate: CorrectedRate) -> str | None:
    if rate.rate is None:
        return None
    who = "all models" if rate.model == "*" else rate.model
    text = (
        f"The corrected adherence rate of {item.label} for {who} scored {_n(rate.rate)} "
        f"({_ci(rate.ci_low, rate.ci_high)}; raw rate {_n(rate.raw_rate)}, {rate.n_labelled} of "
        f"{rate.raw_n} judged images labelled by people)"
    )
    if item.trusted is False:
        return text + "; no verdict, because people disagree with this method."
    return text + f", which is {verdict('adherence', rate.rate)}."


def trust_section(store: Any) -> TrustSection | None:
    """The section of the run in ``store``; None before any label is scored."""
    people = load_people_report(store)
    if people is None or not people.labels:
        return None
    section = TrustSection(
        labels=people.labels,
        labelled_images=people.labelled_images,
        labellers=people.labellers,
        notes=list(people.notes),
    )
    for item in people.methods:
        section.sentences.append(_method_sentence(item))
        if item.labels:
            section.matrices.append(item)
        for rate in item.corrected:
            sentence = _rate_sentence(item, rate)
            if sentence and rate.model == "*":
                section.sentences.append(sentence)
            pooled = rate.model == "*"  # agreement is measured over all models: shown once, on this row
            section.rows.append(
                TrustRow(
                    label=item.label,
                    model="all models" if pooled else rate.model,
                    n_compared=item.n if pooled else 0,
                    accuracy=f"{_n(item.accuracy)} {_ci(item.accuracy_low, item.accuracy_high)}".strip()
                    if pooled
                    else "",
                    kappa=f"{_n(item.kappa)} {_ci(item.kappa_low, item.kappa_high)}".strip() if pooled else "",
                    kappa_word=verdict("kappa", item.kappa) if pooled else None,
                    raw_rate=_n(rate.raw_rate),
                    corrected=f"{_n(rate.rate)} {_ci(rate.ci_low, rate.ci_high)}".strip(),
                    corrected_word=None if item.trusted is False else verdict("adherence", rate.rate),
                    labelled=rate.n_labelled,
                    trusted=item.trusted,
                )
            )
    for alpha in people.labellers_agreement:
        section.alphas.append(
            f"Labellers on {alpha.dimension.replace('_', ' ')}: Krippendorff's alpha {_n(alpha.alpha)} "
            f"({_ci(alpha.ci_low, alpha.ci_high)}) over {alpha.images} images labelled by two or more people."
        )
    return section
