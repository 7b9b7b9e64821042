"""The post's headline, lead and conclusion, written from the findings by fixed templates.

No language model writes here: each sentence is a template filled with a finding of
:mod:`viewfinder.report.findings`, and each :class:`Claim` keeps the numbers and the word it
states, so tests can hold every sentence against the numbers it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from viewfinder.report.findings import (
    KAPPA_AGREE,
    Better,
    Finding,
    betters,
    contested,
    dimensions,
    findings,
    usable_kappa,
)
from viewfinder.report.names import count, dimension_name, join, model_name, num, span
from viewfinder.score.model import Rate, ScoreReport

RATE_UNIT = "share of judged images, higher is better"


@dataclass(frozen=True)
class Claim:
    """One sentence of the conclusion and what it states."""

    text: str
    kind: str  # "overall" | "verdict" | "uncertain" | "not measured" | "better" | "alike"
    dimension: str | None = None
    models: tuple[str, ...] = ()
    values: tuple[float, ...] = ()  # the rates stated, in the text's order
    word: str | None = None  # the verdict word stated ("verdict" claims)


@dataclass
class Story:
    """Headline, lead paragraph(s) and the conclusion paragraph of one run."""

    title: str
    lead: list[str]
    conclusion: list[Claim] = field(default_factory=list)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _rate(rate: Rate, method: str | None = None) -> str:
    by = f", by the {method}" if method else ""
    return f"{num(rate.rate)} ({RATE_UNIT}; 95% CI {span(rate.ci_low, rate.ci_high)}, {rate.k} of {rate.n} images{by})"


def _by_status(found: dict[tuple[str, str], Finding], model: str, status: str) -> list[str]:
    return [dimension_name(dim) for (dim, m), f in found.items() if m == model and f.status == status]


def model_clause(found: dict[tuple[str, str], Finding], model: str, subject: str) -> str | None:
    """ "X gets the scene right but misses the camera angle; how well it follows ... is uncertain"."""
    right, partly = _by_status(found, model, "right"), _by_status(found, model, "partly")
    missed, uncertain = _by_status(found, model, "missed"), _by_status(found, model, "uncertain")
    main = []
    if right:
        main.append(f"gets {join(right)} right")
    if partly and not right:
        main.append(f"gets {join(partly)} only partly right")
    if missed:
        main.append(f"misses {join(missed)}")
    text = f"{subject} {' but '.join(main)}" if main else ""
    who = "it" if text else subject
    return _add_doubt(text, f"how well {who} follows {join(uncertain)} is uncertain" if uncertain else None)


def _add_doubt(text: str, doubt: str | None) -> str | None:
    """``text``, then the clause of what is uncertain (a sentence of its own when ``text`` is empty)."""
    if doubt:
        text = f"{text}; {doubt}" if text else _cap(doubt)
    return text or None


def _short_doubt(clause: str) -> str:
    """The headline's form of a clause: "; how well it follows X is uncertain" -> ", X uncertain"."""
    main, sep, doubt = clause.partition("; how well ")
    if not sep:
        return clause
    dims = doubt.split(" follows ", 1)[-1].split(" follow ", 1)[-1].removesuffix(" is uncertain")
    return f"{main}; {dims} {'are' if ' and ' in dims else 'is'} uncertain"


def _shared_clause(found: dict[tuple[str, str], Finding], models: list[str]) -> str | None:
    """What every model has in common ("A and B both get the style right but miss the angle")."""

    def common(status: str) -> list[str]:
        return [
            dimension_name(dim)
            for dim in dict.fromkeys(d for d, _ in found)
            if all(found[(dim, m)].status == status for m in models)
        ]

    right, missed, uncertain = common("right"), common("missed"), common("uncertain")
    both = "both" if len(models) == 2 else "all"
    subject = join([model_name(m) for m in models])
    main = []
    if right:
        main.append(f"get {join(right)} right")
    if missed:
        main.append(f"miss {join(missed)}")
    text = f"{subject} {both} {' but '.join(main)}" if main else ""
    return _add_doubt(text, f"how well they follow {join(uncertain)} is uncertain" if uncertain else None)


def _better_clause(items: list[Better]) -> str:
    by_pair: dict[tuple[str, str], list[str]] = {}
    for item in items:
        by_pair.setdefault((item.winner, item.loser), []).append(dimension_name(item.dimension))
    parts = [f"{model_name(w)} follows {join(dims)} better than {model_name(lo)}" for (w, lo), dims in by_pair.items()]
    return "; ".join(parts[:2])


def headline(report: ScoreReport | None, models: list[str], topic: str) -> str:
    """The post's title from the verdicts (one model) or the significant differences (several)."""
    about = topic.replace("-", " ").replace("_", " ")
    names = join([model_name(m) for m in models]) or "no model yet"
    if report is None or not report.dimensions:
        return f"How {names} follow{'s' if len(models) == 1 else ''} prompts about {about}"
    found = findings(report)
    if len(report.models) == 1:
        clause = model_clause(found, report.models[0], model_name(report.models[0]))
    else:
        clause = _better_clause(betters(report)) or _shared_clause(found, report.models)
    if clause is None:
        return f"How {names} follow{'s' if len(models) == 1 else ''} prompts about {about}"
    title = _cap(_short_doubt(clause))
    return title if len(title) > 80 else f"{title}: a look at {about}"


def lead(
    report: ScoreReport | None, description: str, n_images: int, n_prompts: int, models: list[str], analyzers: list[str]
) -> list[str]:
    """The paragraph under the headline: what was made and measured, and how to read the verdicts."""
    out = [description] if description else []
    if not n_images:
        out.append("The run has no images yet: 'viewfinder run STUDY' or 'viewfinder generate DIR' makes them.")
        return out
    made = (
        f"We made {count(n_images, 'image')} from {count(n_prompts, 'prompt')} with "
        f"{join([model_name(m) for m in models])} and measured them with {join(analyzers) or 'no analyzer yet'}."
    )
    out.append(made)
    if report is None:
        out.append("The run has not been scored yet, so there is no verdict.")
        return out
    rules = (
        "Each part of the prompt gets a verdict word from fixed thresholds on the share of judged images "
        "that follow it; where two methods measure one part and disagree, we say the measure is uncertain "
        "instead of choosing one."
    )
    if len(report.models) > 1:
        rules += (
            " One model is said to follow a part better than another only where a paired test on the same "
            "prompts and seeds finds a difference (Holm-adjusted p below 0.05)."
        )
    out.append(rules)
    return out


def _verdict_claim(f: Finding, subject: str) -> Claim:
    """ "The scene: X scored 0.62 (...), which is good; the faces analyzer agrees (0.60, ...)." (the
    seed's "Shot Analysis: The model scored 0.66, which is considered good")."""
    chosen = f.chosen
    assert chosen is not None
    others = [r for r in f.rates if r is not chosen]
    also = "".join(f"; the {r.name} agrees ({_rate(r.rate)})" for r in others)
    text = (
        f"{_cap(dimension_name(f.dimension))}: {subject} scored {_rate(chosen.rate, chosen.name)}, "
        f"which is {chosen.rate.verdict}{also}."
    )
    values = (chosen.rate.rate or 0.0, *(r.rate.rate or 0.0 for r in others))
    return Claim(text, "verdict", f.dimension, (f.model,), values, chosen.rate.verdict)


def _uncertain_claim(f: Finding, subject: str) -> Claim:
    said = [f"the {r.name} says {_rate(r.rate)}" for r in f.rates]
    why = []
    if "intervals" in f.reasons:
        why.append("their 95% intervals do not overlap")
    if "kappa" in f.reasons:
        why.append(
            f"they agree on which images follow it with Cohen's kappa {num(usable_kappa(f.agreement))} "
            f"(−1 to 1, higher is better; below {KAPPA_AGREE} counts as disagreeing)"
        )
    if "people" in f.reasons:
        why.append("people's labels disagree with every method that measured it (Cohen's kappa with them below 0.4)")
    text = f"How well {subject} follows {dimension_name(f.dimension)} is uncertain: {join(said)}; {join(why)}."
    return Claim(text, "uncertain", f.dimension, (f.model,), tuple(r.rate.rate or 0.0 for r in f.rates))


def _not_measured_claim(f: Finding, subject: str) -> Claim:
    why = (
        f"none of its {count(f.not_judged, 'image')} that ask for it could be judged"
        if f.not_judged
        else "no method answered it"
    )
    return Claim(
        f"{_cap(dimension_name(f.dimension))} could not be measured for {subject}: {why}.",
        "not measured",
        f.dimension,
        (f.model,),
    )


def _better_claim(item: Better) -> Claim:
    tests = []
    values: list[float] = []
    for c in item.comparisons:
        a, b = (c.value_a, c.value_b) if c.model_a == item.winner else (c.value_b, c.value_a)
        values += [a or 0.0, b or 0.0]
        tests.append(
            f"{c.label or c.target}: {num(a)} vs {num(b)} ({RATE_UNIT}; {c.n_pairs} paired images, "
            f"{c.test}, Holm-adjusted p {_p(c.p_holm)})"
        )
    text = (
        f"{model_name(item.winner)} follows {dimension_name(item.dimension)} better than "
        f"{model_name(item.loser)}: {'; '.join(tests)}."
    )
    return Claim(text, "better", item.dimension, (item.winner, item.loser), tuple(values))


def _p(value: float | None) -> str:
    return "n/a" if value is None else "< 0.001" if value < 0.001 else f"= {value:.3f}"


def conclusion(report: ScoreReport | None) -> list[Claim]:
    """The conclusion paragraph: an overall sentence, then one sentence per dimension and model,
    then who follows what better (several models)."""
    if report is None or not report.dimensions:
        return []
    found = findings(report)
    several = len(report.models) > 1
    out: list[Claim] = []
    if several:
        items = betters(report)
        overall = _better_clause(items) or _shared_clause(found, report.models)
    else:
        items = []
        overall = model_clause(found, report.models[0], model_name(report.models[0])) if report.models else None
    if overall:
        out.append(Claim(f"Overall, {overall}.", "overall", models=tuple(report.models)))
    for dim in dimensions(report):
        for model in report.models:
            f = found[(dim, model)]
            subject = model_name(model)
            if f.status == "uncertain":
                out.append(_uncertain_claim(f, subject))
            elif f.status == "not measured":
                if f.not_judged:
                    out.append(_not_measured_claim(f, subject))
            else:
                out.append(_verdict_claim(f, subject))
    out += [_better_claim(item) for item in items]
    if several:
        compared = [c for c in report.comparisons if c.kind == "binary"]
        contest = contested(report)
        if compared and not items:
            out.append(
                Claim(
                    f"No model follows any part of the prompt better than another: none of the "
                    f"{count(len(compared), 'paired test')} on the same prompts and seeds finds a difference "
                    "(Holm-adjusted p below 0.05).",
                    "alike",
                    models=tuple(report.models),
                )
            )
        if contest:
            out.append(
                Claim(
                    f"For {join([dimension_name(d) for d in contest])} the methods find opposite "
                    "differences between models, so which model follows it better is uncertain.",
                    "uncertain",
                    contest[0],
                    tuple(report.models),
                )
            )
    return out
