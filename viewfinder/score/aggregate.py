"""Build the :class:`ScoreReport` of a run from its measurements and the roles their specs declare."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from viewfinder.score.adherence import (
    FACTORS,
    DimensionMethod,
    ImageAdherence,
    image_adherence,
    present_methods,
)
from viewfinder.score.compare import compare_models
from viewfinder.score.logistic import fit_adherence
from viewfinder.score.model import (
    Agreement,
    Breakdown,
    BreakdownRow,
    DimensionResult,
    GridEffect,
    LogisticModel,
    LogisticTerm,
    Mean,
    Rate,
    ScoreReport,
    ScoreResult,
)
from viewfinder.score.stats import bootstrap_mean, cohens_kappa, homogeneity_test, wilson_interval
from viewfinder.score.verdicts import SCALES, verdict
from viewfinder.store import FlagRole, ImageRecord, ScoreRole, StoredSpec
from viewfinder.study import Study
from viewfinder.study.vocabulary import CAMERA_ANGLES, EXPRESSIONS, SHOT_SIZES

ALL_MODELS = "*"


@dataclass(frozen=True)
class ScoreSpec:
    """A continuous score summarised with a mean and a bootstrap interval."""

    column: str
    label: str
    unit: str
    scale: str
    measures: str
    compare: bool = True  # part of the paired model comparisons (and their Holm family)


def score_specs(specs: Iterable[StoredSpec]) -> list[ScoreSpec]:
    """Every score the registered ``specs`` declare, in their declared order; a scale missing
    from the verdict table is a programming error in the analyzer, named here."""
    found = []
    for stored in specs:
        role = stored.spec.role(ScoreRole)
        if role is None:
            continue
        if role.scale not in SCALES:
            raise ValueError(f"measurement {stored.key}: score scale {role.scale!r} is not one of {', '.join(SCALES)}")
        found.append(
            (
                role.order,
                stored.key,
                ScoreSpec(
                    stored.key,
                    role.label,
                    stored.spec.unit,
                    role.scale,
                    _sentence(stored.spec.description),
                    role.compare,
                ),
            )
        )
    return [spec for _, _, spec in sorted(found, key=lambda entry: entry[:2])]


def _sentence(text: str) -> str:
    """A registered description as a sentence (it names the model used)."""
    text = text.strip()
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".") if text else ""


NOTES = (
    "Adherence rates are shares of judged images with 95% Wilson score intervals; images a method could not "
    "judge (no face, 'unclear', missing answer) are counted apart and never as failures.",
    "Means of continuous scores have 95% bootstrap intervals (scipy.stats.bootstrap, 2,000 resamples, fixed seed; "
    "BCa below 500 images, percentile above), widened for small samples by Hesterberg's expansion.",
    "Agreement between the VLM judge and the faces analyzer is Cohen's kappa over images both judged, with a "
    "paired BCa bootstrap 95% interval below 100 such images and the Fleiss-Cohen-Everitt large-sample interval above.",
    "Models are compared on the same prompts and seeds: McNemar's test (exact binomial below 25 discordant pairs) "
    "with Newcombe's interval for the difference in rates; a paired sign-flip permutation test (9,999 resamples) "
    "with a bootstrap interval for score differences; Holm's correction across all targets of a model pair.",
    "CLIP scores to one dimension's text alone use the whole-prompt CLIP score's verdict thresholds and are "
    "not part of the model comparisons.",
    "Grid effects test whether adherence differs across the levels of another grid factor "
    "(Fisher's exact test for two levels, chi-square for more), pooled over models; a Firth-penalised logistic "
    "model of adherence on model, camera, style and emotion gives each level's odds ratio holding the others "
    "fixed (Wald intervals, p-values not adjusted).",
)


def rate_of(flags: Sequence[bool | None], reasons: Sequence[str] = ()) -> Rate:
    """The adherence rate of a list of per-image flags (None = not judged, for ``reasons``)."""
    judged = [flag for flag in flags if flag is not None]
    k, n = sum(judged), len(judged)
    low, high = wilson_interval(k, n)
    value = k / n if n else None
    return Rate(
        k=k,
        n=n,
        n_not_judged=len(flags) - n,
        not_judged_reasons=dict(Counter(reasons)),
        rate=value,
        ci_low=low,
        ci_high=high,
        verdict=verdict("adherence", value),
    )


def rate_for(items: Sequence[ImageAdherence], key: tuple[str, str]) -> Rate:
    """The adherence rate of ``items`` on one dimension and method, with why images were not judged."""
    return rate_of([item.flags[key] for item in items], [item.reasons[key] for item in items if key in item.reasons])


def mean_of(values: Sequence[float], scale: str, *, seed: int = 0, resamples: int = 2000) -> Mean:
    result = bootstrap_mean(values, seed=seed, resamples=resamples)
    return Mean(
        n=result.n,
        mean=result.mean,
        sd=result.sd,
        ci_low=result.low,
        ci_high=result.high,
        verdict=verdict(scale, result.mean),
    )


def _levels(items: Sequence[ImageAdherence], factor: str) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item.factors[factor], None)
    return list(seen)


def _cells(items: Sequence[ImageAdherence], models: Sequence[str], factor: str):
    """(model, level, images) for every model (and all models pooled) and level of ``factor``."""
    for level in _levels(items, factor):
        at_level = [item for item in items if item.factors[factor] == level]
        for model in [*models, ALL_MODELS]:
            chosen = at_level if model == ALL_MODELS else [item for item in at_level if item.model == model]
            if chosen:
                yield model, level, chosen


def _applicable(method: DimensionMethod, items: Sequence[ImageAdherence]) -> list[ImageAdherence]:
    """The images whose prompt asks for ``method``'s dimension (judged or not)."""
    return [item for item in items if method.key in item.flags]


def _rate_rows(
    method: DimensionMethod,
    applicable: Sequence[ImageAdherence],
    models: Sequence[str],
    factor: str,
) -> list[BreakdownRow]:
    """``method``'s adherence rate per model (and all models pooled) and level of ``factor``."""
    return [
        BreakdownRow(model=model, level=level, rate=rate_for(cell, method.key))
        for model, level, cell in _cells(applicable, models, factor)
    ]


def dimension_result(
    method: DimensionMethod, items: Sequence[ImageAdherence], models: Sequence[str]
) -> DimensionResult:
    applicable = _applicable(method, items)
    return DimensionResult(
        dimension=method.dimension,
        method=method.method,
        label=method.label,
        measures=method.measures,
        overall=rate_for(applicable, method.key),
        per_model={
            model: rate_for([item for item in applicable if item.model == model], method.key) for model in models
        },
        breakdowns=[Breakdown(by=factor, rows=_rate_rows(method, applicable, models, factor)) for factor in FACTORS],
    )


def score_result(
    spec: ScoreSpec,
    items: Sequence[ImageAdherence],
    models: Sequence[str],
    *,
    seed: int = 0,
    measures: str = "",
) -> ScoreResult:
    """Means of one score overall, per model and per grid level; ``measures`` overrides the spec's sentence."""
    scored = [item for item in items if spec.column in item.scores]

    def values(chosen: Sequence[ImageAdherence]) -> list[float]:
        return [item.scores[spec.column] for item in chosen]

    breakdowns = []
    for factor in FACTORS:
        rows = [
            BreakdownRow(model=model, level=level, mean=mean_of(values(cell), spec.scale, seed=seed, resamples=1000))
            for model, level, cell in _cells(scored, models, factor)
        ]
        breakdowns.append(Breakdown(by=factor, rows=rows))
    return ScoreResult(
        key=spec.column,
        label=spec.label,
        measures=measures or spec.measures,
        unit=spec.unit,
        scale=spec.scale,
        direction=SCALES[spec.scale].direction,  # type: ignore[arg-type]
        overall=mean_of(values(scored), spec.scale, seed=seed),
        per_model={
            model: mean_of(values([i for i in scored if i.model == model]), spec.scale, seed=seed) for model in models
        },
        breakdowns=breakdowns,
    )


_LABEL_ORDER = {"camera_angle": CAMERA_ANGLES, "shot_size": SHOT_SIZES, "emotion": EXPRESSIONS}


FOLLOWS = ("follows", "does not follow")


Basis = Literal["labels", "adherence"]
BASES: tuple[Basis, ...] = ("labels", "adherence")


def _follows(flag: bool | None) -> str | None:
    return None if flag is None else FOLLOWS[0] if flag else FOLLOWS[1]


def agreement(
    dimension: str,
    items: Sequence[ImageAdherence],
    basis: Basis,
    methods: tuple[DimensionMethod, DimensionMethod],
) -> Agreement:
    """Cohen's kappa of two methods on ``dimension`` (e.g. the VLM judge and the faces analyzer),
    over images both judged: on the labels they named, or (``basis="adherence"``) on whether the
    image follows."""
    a_key, b_key = methods[0].key, methods[1].key
    if basis == "labels":
        answered = [(item.answers.get(a_key), item.answers.get(b_key)) for item in items]
        order: Sequence[str] = _LABEL_ORDER[dimension]
    else:
        answered = [(_follows(item.flags.get(a_key)), _follows(item.flags.get(b_key))) for item in items]
        order = FOLLOWS
    pairs = [(a, b) for a, b in answered if a is not None and b is not None]
    used = {label for pair in pairs for label in pair}
    labels = [label for label in order if label in used]
    result = cohens_kappa([a for a, _ in pairs], [b for _, b in pairs], labels)
    return Agreement(
        dimension=dimension,
        basis=basis,
        method_a=methods[0].method_name,
        method_b=methods[1].method_name,
        n=result.n,
        observed=result.observed,
        kappa=result.kappa,
        ci_low=result.low,
        ci_high=result.high,
        ci_method=result.method,
        verdict=verdict("kappa", result.kappa),
        labels=result.labels,
        matrix=result.matrix,
    )


def _agreements(methods: Sequence[DimensionMethod], items: Sequence[ImageAdherence]) -> list[Agreement]:
    """Agreement of the first two label methods of each dimension that two methods answer."""
    out = []
    for dimension in _LABEL_ORDER:
        pair = [m for m in methods if m.dimension == dimension and m.kind == "label"][:2]
        if len(pair) == 2:
            out += [agreement(dimension, items, basis, (pair[0], pair[1])) for basis in BASES]
    return out


def grid_effects(method: DimensionMethod, items: Sequence[ImageAdherence], models: Sequence[str]) -> list[GridEffect]:
    """Adherence to ``method``'s dimension split by each other grid factor with two or more levels."""
    applicable = _applicable(method, items)
    out = []
    for factor in FACTORS:
        if factor == {"camera_angle": "camera", "shot_size": "camera"}.get(method.dimension, method.dimension):
            continue
        if len(_levels(applicable, factor)) < 2:
            continue
        rows = _rate_rows(method, applicable, models, factor)
        pooled = [row.rate for row in rows if row.model == ALL_MODELS and row.rate is not None]
        test, p_value = homogeneity_test([(rate.k, rate.n - rate.k) for rate in pooled])
        rates = [rate.rate for rate in pooled if rate.rate is not None]
        out.append(
            GridEffect(
                dimension=method.dimension,
                method=method.method,
                by=factor,
                rows=rows,
                test=test,
                p_value=p_value,
                spread=(max(rates) - min(rates)) if len(rates) > 1 else None,
            )
        )
    return out


LOGISTIC_FACTORS = ("model", "camera", "style", "emotion")  # category is nested in emotion's cases


def logistic_model(method: DimensionMethod, items: Sequence[ImageAdherence]) -> LogisticModel | None:
    """Adherence to ``method``'s dimension on model, camera, style and emotion (judged images only)."""
    judged = [item for item in items if item.flags.get(method.key) is not None]
    rows = [{"model": item.model, **item.factors} for item in judged]
    fit = fit_adherence(rows, [bool(item.flags[method.key]) for item in judged], LOGISTIC_FACTORS)
    if fit is None:
        return None
    used = [factor for factor in LOGISTIC_FACTORS if any(term.factor == factor for term in fit.terms)]
    return LogisticModel(
        dimension=method.dimension,
        method=method.method,
        label=method.label,
        formula="adherence ~ " + " + ".join(used),
        n=fit.n,
        converged=fit.converged,
        terms=[LogisticTerm(**vars(term)) for term in fit.terms],
    )


def ordered_models(present: Iterable[str], study: Study) -> list[str]:
    """The models ``present`` (those with images): the study's order first, then any others
    (from --model) by name. One order, so each model keeps its place and colour everywhere."""
    present = set(present)
    return [m for m in study.models if m in present] + sorted(present - set(study.models))


def build_score_report(
    images: Sequence[ImageRecord],
    table: Mapping[int, Mapping[str, Any]],
    study: Study,
    specs: Sequence[StoredSpec],
    *,
    seed: int = 0,
) -> ScoreReport:
    """The score report of ``images`` (``RunStore.images`` rows) and their measurements, scored
    by the roles the registered ``specs`` (``RunStore.spec_records()``) declare."""
    return build_scoring(images, table, study, specs, seed=seed)[0]


def build_scoring(
    images: Sequence[ImageRecord],
    table: Mapping[int, Mapping[str, Any]],
    study: Study,
    specs: Sequence[StoredSpec],
    *,
    seed: int = 0,
) -> tuple[ScoreReport, list[ImageAdherence], tuple[DimensionMethod, ...]]:
    """The score report, each image's adherence and the dimension methods stored for the run."""
    columns = {column for values in table.values() for column in values}
    scores = [spec for spec in score_specs(specs) if spec.column in columns]
    stored_methods = present_methods(table, specs)
    items = image_adherence(list(images), table, study, stored_methods, tuple(spec.column for spec in scores))
    # a dimension no prompt asks for (no shot size in any camera) is left out, not shown as "not judged"
    methods = tuple(m for m in stored_methods if any(m.key in i.flags for i in items))
    models = ordered_models((item.model for item in items), study)
    notes = list(NOTES)
    for stored in specs:
        flag = stored.spec.role(FlagRole)
        count = sum(1 for values in table.values() if values.get(stored.key) == 1) if flag else 0
        if count:
            notes.append(f"{count} of {len(items)} images {flag.note} (measurement {stored.key}).")
    for emotion in study.emotions:
        if not emotion.expressions:
            notes.append(
                f"Emotion {emotion.name!r} lists no facial expressions, "
                "so its images are not scored for emotion adherence."
            )
    compared = {spec.column: spec.label for spec in scores if spec.compare}
    report = ScoreReport(
        study=study.name,
        models=models,
        n_images=len(items),
        dimensions=[dimension_result(method, items, models) for method in methods],
        scores=[score_result(spec, items, models, seed=seed) for spec in scores],
        agreements=_agreements(methods, items),
        comparisons=compare_models(items, models, methods, compared, seed=seed),
        grid_effects=[effect for method in methods for effect in grid_effects(method, items, models)],
        logistic=[fit for method in methods if (fit := logistic_model(method, items)) is not None],
        notes=notes,
    )
    return report, items, stored_methods
