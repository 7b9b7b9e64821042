"""What the numbers say, per prompt dimension and model: a verdict, "uncertain", or better/worse.

The headline and the conclusion (:mod:`viewfinder.report.story`) are written from these
findings only, so every word they use can be traced to a number:

- a dimension's verdict is the verdict table's word for its rate (``Rate.verdict``);
- where two methods answer one dimension (the VLM judge and the faces analyzer) and they
  disagree -- their 95% intervals do not overlap, or Cohen's kappa of their follows/misses
  answers is below :data:`KAPPA_AGREE` -- the dimension is *uncertain* and no verdict is chosen;
- one model follows a dimension *better* than another only where the paired test on the same
  prompts and seeds is significant after Holm's correction, and no method says the opposite.
"""

from __future__ import annotations

from dataclasses import dataclass

from viewfinder.report.names import method_name
from viewfinder.score.model import Agreement, Comparison, Rate, ScoreReport
from viewfinder.score.sentences import kappa_gap

#: Below this kappa two methods are said to disagree (Landis & Koch's "moderate" starts here).
KAPPA_AGREE = 0.4
RIGHT = ("good", "very good")
MISSED = ("poor",)


@dataclass(frozen=True)
class MethodRate:
    """One method's adherence rate of one model on one dimension."""

    method: str  # "judge"
    name: str  # "VLM judge"
    rate: Rate


@dataclass(frozen=True)
class Finding:
    """One model on one dimension."""

    dimension: str
    model: str
    rates: tuple[MethodRate, ...]  # methods with a rate (some images judged)
    not_judged: int  # images asked for the dimension that no method could judge
    agreement: Agreement | None  # the methods' agreement on follows/misses, pooled over models
    status: str  # "right" | "partly" | "missed" | "uncertain" | "not measured"
    reasons: tuple[str, ...] = ()  # why uncertain: "intervals" (do not overlap), "kappa" (below KAPPA_AGREE)

    @property
    def chosen(self) -> MethodRate | None:
        """The rate the verdict rests on: the method that judged the most images (None when uncertain)."""
        if self.status in ("uncertain", "not measured"):
            return None
        return max(self.rates, key=lambda r: r.rate.n)

    @property
    def verdict(self) -> str | None:
        chosen = self.chosen
        return None if chosen is None else chosen.rate.verdict


@dataclass(frozen=True)
class Better:
    """``winner`` follows ``dimension`` better than ``loser`` by a significant paired test."""

    dimension: str
    winner: str
    loser: str
    comparisons: tuple[Comparison, ...]  # the significant tests (one per method that found it)


def overlap(a: Rate, b: Rate) -> bool:
    """Whether two rates' 95% intervals share a point."""
    if None in (a.ci_low, a.ci_high, b.ci_low, b.ci_high):
        return True
    return a.ci_low <= b.ci_high and b.ci_low <= a.ci_high  # type: ignore[operator]


def usable_kappa(item: Agreement | None) -> float | None:
    """The agreement's kappa where it says something (not with one method giving a single answer), else None."""
    if item is None or item.kappa is None or kappa_gap(item) is not None:
        return None
    return item.kappa


def _agreement(report: ScoreReport, dimension: str) -> Agreement | None:
    return next((a for a in report.agreements if a.dimension == dimension and a.basis == "adherence"), None)


def dimensions(report: ScoreReport) -> list[str]:
    """The report's dimensions, in its order."""
    return list(dict.fromkeys(d.dimension for d in report.dimensions))


def finding(report: ScoreReport, dimension: str, model: str) -> Finding:
    rates = []
    not_judged = 0
    for result in report.dimensions:
        if result.dimension != dimension or model not in result.per_model:
            continue
        rate = result.per_model[model]
        if rate.rate is not None:
            rates.append(MethodRate(result.method, method_name(result.label, result.method), rate))
        else:
            not_judged = max(not_judged, rate.n_not_judged)
    agreement = _agreement(report, dimension)
    if not rates:
        return Finding(dimension, model, (), not_judged, agreement, "not measured")
    reasons = []
    if len(rates) > 1:
        if not all(overlap(a.rate, b.rate) for a in rates for b in rates if a is not b):
            reasons.append("intervals")
        kappa = usable_kappa(agreement)
        if kappa is not None and kappa < KAPPA_AGREE:
            reasons.append("kappa")
    # a method people disagree with (kappa with their labels below 0.4) has its verdict withheld
    # by the score stage: nothing rests on it, and a dimension left with none is uncertain
    trusted = [r for r in rates if r.rate.verdict is not None]
    if not trusted:
        reasons.append("people")
    if reasons:
        return Finding(dimension, model, tuple(rates), not_judged, agreement, "uncertain", tuple(reasons))
    rates = trusted
    word = max(rates, key=lambda r: r.rate.n).rate.verdict
    status = "right" if word in RIGHT else "missed" if word in MISSED else "partly"
    return Finding(dimension, model, tuple(rates), not_judged, agreement, status)


def findings(report: ScoreReport) -> dict[tuple[str, str], Finding]:
    """Every (dimension, model) finding, in the report's dimension then model order."""
    return {(dim, model): finding(report, dim, model) for dim in dimensions(report) for model in report.models}


def betters(report: ScoreReport) -> list[Better]:
    """Significant paired differences in adherence, one per dimension and model pair; a pair whose
    methods find opposite significant differences is left out (the measure is uncertain)."""
    grouped: dict[tuple[str, frozenset[str]], list[Comparison]] = {}
    for item in report.comparisons:
        if item.kind != "binary" or not item.significant or not item.effect:
            continue
        dimension = item.target.split("/", 1)[0]
        grouped.setdefault((dimension, frozenset((item.model_a, item.model_b))), []).append(item)
    out = []
    for (dimension, _), items in grouped.items():
        winners = {(c.model_a, c.model_b) if (c.effect or 0) > 0 else (c.model_b, c.model_a) for c in items}
        if len(winners) == 1:
            winner, loser = winners.pop()
            out.append(Better(dimension, winner, loser, tuple(items)))
    order = dimensions(report)
    return sorted(out, key=lambda b: order.index(b.dimension) if b.dimension in order else len(order))


def contested(report: ScoreReport) -> list[str]:
    """Dimensions where the methods find opposite significant differences between two models."""
    seen: dict[tuple[str, frozenset[str]], set[str]] = {}
    for item in report.comparisons:
        if item.kind == "binary" and item.significant and item.effect:
            dimension = item.target.split("/", 1)[0]
            winner = item.model_a if item.effect > 0 else item.model_b
            seen.setdefault((dimension, frozenset((item.model_a, item.model_b))), set()).add(winner)
    return list(dict.fromkeys(dim for (dim, _), winners in seen.items() if len(winners) > 1))
