"""The conclusion sentences of a score report: numbers with intervals and the table's words."""

from __future__ import annotations

from viewfinder.score.model import (
    Agreement,
    Comparison,
    DimensionResult,
    GridEffect,
    LogisticModel,
    ScoreReport,
    ScoreResult,
)
from viewfinder.score.verdicts import SCALES, Sentence


def _num(scale: str, value: float | None) -> str:
    """A number at its scale's digits, with a typographic minus ("−0.35")."""
    if value is None:
        return "n/a"
    text = SCALES[scale].format(value)
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text.replace("-", "\u2212")


def _ci(scale: str, low: float | None, high: float | None) -> str:
    """ "95% CI 0.22 to 0.78" (a range never reads "-0.35--0.23")."""
    return f"95% CI {_num(scale, low)} to {_num(scale, high)}"


def _reasons(counts: dict[str, int]) -> str:
    """': 3 no face, 1 unclear' for the not-judged count, most common first."""
    if not counts:
        return ""
    return ": " + ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def dimension_sentences(result: DimensionResult) -> list[Sentence]:
    out = []
    for model, rate in result.per_model.items():
        if rate.n == 0 and rate.n_not_judged == 0:
            continue  # the model has no image that asks for this dimension
        if rate.rate is None:
            out.append(
                Sentence(
                    text=(
                        f"{result.label} adherence for {model} could not be measured: none of its "
                        f"{rate.n_not_judged} images could be judged{_reasons(rate.not_judged_reasons)}."
                    )
                )
            )
            continue
        text = (
            f"{result.label} adherence for {model} scored {_num(result.scale, rate.rate)} "
            f"(share of judged images, {result.direction} is better; {_ci(result.scale, rate.ci_low, rate.ci_high)}; "
            f"{rate.k} of {rate.n} judged images, {rate.n_not_judged} not judged{_reasons(rate.not_judged_reasons)}), "
            f"which is {rate.verdict}."
        )
        if rate.verdict is None:  # withheld: the method disagrees with people (score.people_stage)
            out.append(
                Sentence(
                    text=text.rsplit(", which is", 1)[0] + "; no verdict, because the method "
                    "disagrees with people's labels."
                )
            )
            continue
        out.append(Sentence(text=text, scale=result.scale, value=rate.rate))
    return out


def score_sentences(result: ScoreResult) -> list[Sentence]:
    out = []
    for model, mean in result.per_model.items():
        if mean.mean is None:
            continue
        text = (
            f"{result.label} for {model} scored {_num(result.scale, mean.mean)} "
            f"({result.unit}, {result.direction} is better; mean of {mean.n} images, "
            f"{_ci(result.scale, mean.ci_low, mean.ci_high)}), which is {mean.verdict}."
        )
        out.append(Sentence(text=text, scale=result.scale, value=mean.mean))
    return out


_NAMED = {"camera_angle": "the angle", "shot_size": "the shot size", "emotion": "the facial expression"}


def agreement_sentence(item: Agreement) -> Sentence:
    dimension = item.dimension.replace("_", " ")
    on = (
        f"whether images follow the requested {dimension}"
        if item.basis == "adherence"
        else f"{dimension} ({_NAMED.get(item.dimension, 'the answer')} each named)"
    )
    subject = f"Agreement between the {item.method_a} and the {item.method_b} on {on}"
    why = kappa_gap(item)
    if why:
        return Sentence(text=f"{subject} could not be measured because {why}.")
    observed = "n/a" if item.observed is None else f"{item.observed:.0%}"
    return Sentence(
        text=(
            f"{subject}: Cohen's kappa scored {_num('kappa', item.kappa)} (\u22121 to 1, higher is better; "
            f"{_ci('kappa', item.ci_low, item.ci_high)}; {item.n} images judged by both, "
            f"{observed} identical answers), which is {item.verdict}."
        ),
        scale="kappa",
        value=item.kappa,
    )


def kappa_gap(item: Agreement) -> str | None:
    """Why kappa says nothing about ``item`` (no image judged by both, or one method gave the same
    answer every time), in words; None when it can be read."""
    if item.n == 0:
        return "no image was judged by both methods"
    for method, lines in (
        (item.method_a, item.matrix),
        (item.method_b, [list(c) for c in zip(*item.matrix, strict=True)]),
    ):
        used = [i for i, line in enumerate(lines) if sum(line)]
        if len(used) == 1:
            answer = item.labels[used[0]] if used[0] < len(item.labels) else "one answer"
            return (
                f"the {method} gave the same answer (\u201c{answer}\u201d) for all {item.n} images both judged, "
                "and kappa needs each method to give two or more answers"
            )
    if item.kappa is None:
        return f"kappa is undefined for these {item.n} images (chance agreement is complete)"
    return None


def _p(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "< 0.001" if value < 0.001 else f"= {value:.3f}"


def comparison_sentence(item: Comparison) -> Sentence:
    if item.effect is None:
        return Sentence(
            text=f"{item.model_a} and {item.model_b} could not be compared on {item.label or item.target} "
            f"because {item.n_pairs} prompt and seed pairs have an answer from both."
        )
    outcome = "a significant difference" if item.significant else "no significant difference"
    return Sentence(
        text=(
            f"On {item.label or item.target}, {item.model_a} vs {item.model_b} over {item.n_pairs} paired images: "
            f"{item.value_a:.2f} vs {item.value_b:.2f}{_unit(item)}, {item.effect_name} {_signed(item.effect)} "
            f"(95% CI {_signed(item.effect_ci_low)} to {_signed(item.effect_ci_high)}); "
            f"{item.test} p {_p(item.p_value)}, "
            f"Holm-adjusted p {_p(item.p_holm)}: {outcome}."
        )
    )


def _unit(item: Comparison) -> str:
    """The scale beside a comparison's two values (adherence rates; a score's unit is in its label)."""
    return " (shares of judged images, higher is better)" if item.kind == "binary" else ""


def _signed(value: float | None) -> str:
    """ "+0.50", "\u22120.10"."""
    return "n/a" if value is None else f"{value:+.2f}".replace("-", "\u2212")


def _first(pair: tuple[float, str]) -> float:
    return pair[0]


def grid_effect_sentence(item: GridEffect) -> Sentence | None:
    rates = [
        (row.rate.rate, row.level) for row in item.rows if row.model == "*" and row.rate and row.rate.rate is not None
    ]
    if len(rates) < 2:
        return None
    (low, low_level), (high, high_level) = min(rates, key=_first), max(rates, key=_first)
    subject = f"{item.dimension.replace('_', ' ').capitalize()} adherence ({item.method})"
    if high == low:
        return Sentence(text=f"{subject} is {low:.2f} at every {item.by} value.")
    return Sentence(
        text=(
            f"{subject} ranges from {low:.2f} ({low_level}) to {high:.2f} ({high_level}) "
            f"across {item.by} values ({item.test} p {_p(item.p_value)})."
        )
    )


def _ratio(value: float) -> str:
    """An odds ratio with two decimals, or two significant digits when very small or large."""
    return f"{value:.2f}" if 0.01 <= value < 1000 else f"{value:.2g}"


def logistic_sentences(model: LogisticModel, alpha: float = 0.05) -> list[Sentence]:
    """One sentence per level whose odds ratio differs from 1 at ``alpha`` (unadjusted)."""
    out = []
    for term in model.terms:
        if term.p_value >= alpha:
            continue
        out.append(
            Sentence(
                text=(
                    f"Holding the other grid factors fixed, {term.factor} {term.level!r} instead of {term.reference!r} "
                    f"multiplies the odds of {model.label} adherence by {_ratio(term.odds_ratio)} (95% CI "
                    f"{_ratio(term.ci_low)} to {_ratio(term.ci_high)}, p {_p(term.p_value)}; "
                    f"logistic model of {model.n} judged images)."
                )
            )
        )
    return out


def report_sentences(report: ScoreReport) -> list[Sentence]:
    """All conclusion sentences, in report order."""
    out: list[Sentence] = []
    for result in report.dimensions:
        out += dimension_sentences(result)
    for score in report.scores:
        out += score_sentences(score)
    out += [agreement_sentence(item) for item in report.agreements]
    out += [comparison_sentence(item) for item in report.comparisons]
    for effect in report.grid_effects:
        sentence = grid_effect_sentence(effect)
        if sentence:
            out.append(sentence)
    for model in report.logistic:
        out += logistic_sentences(model)
    return out
