"""Models compared on the same prompts and seeds: McNemar for adherence, paired permutation
for scores, Holm correction across every target of one model pair."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

from viewfinder.score.adherence import DimensionMethod, ImageAdherence
from viewfinder.score.model import Comparison
from viewfinder.score.stats import holm, mcnemar, paired_permutation, wilcoxon_signed_rank

ALPHA = 0.05


def _by_pair(images: Sequence[ImageAdherence], model: str) -> dict[tuple, ImageAdherence]:
    return {item.pair_key: item for item in images if item.model == model}


def compare_pair(
    images: Sequence[ImageAdherence], model_a: str, model_b: str,
    methods: Sequence[DimensionMethod], score_columns: Mapping[str, str], *, seed: int = 0,
) -> list[Comparison]:
    """Every adherence dimension and score (``score_columns``: column -> label) of ``model_a``
    vs ``model_b``, Holm-adjusted together."""
    left, right = _by_pair(images, model_a), _by_pair(images, model_b)
    shared = [key for key in left if key in right]
    out: list[Comparison] = []
    for method in methods:
        flags = [(left[k].flags.get(method.key), right[k].flags.get(method.key)) for k in shared]
        both = [(a, b) for a, b in flags if a is not None and b is not None]
        result = mcnemar([a for a, _ in both], [b for _, b in both])
        out.append(Comparison(
            target=f"{method.dimension}/{method.method}", label=method.label, kind="binary",
            model_a=model_a, model_b=model_b,
            n_pairs=result.n, value_a=result.rate_a, value_b=result.rate_b, test=result.test,
            statistic=result.statistic, p_value=result.p_value, effect_name="difference in rates",
            effect=result.difference, effect_ci_low=result.low, effect_ci_high=result.high,
            standardized=result.odds_ratio, discordant=[result.a_only, result.b_only],
        ))
    for column, label in score_columns.items():
        values = [(left[k].scores.get(column), right[k].scores.get(column)) for k in shared]
        paired = [(a, b) for a, b in values if a is not None and b is not None]
        if not paired:
            continue
        xs, ys = [a for a, _ in paired], [b for _, b in paired]
        continuous = paired_permutation(xs, ys, seed=seed)
        _, p_wilcoxon = wilcoxon_signed_rank(xs, ys)
        out.append(Comparison(
            target=column, label=label, kind="continuous", model_a=model_a, model_b=model_b, n_pairs=continuous.n,
            value_a=continuous.mean_a, value_b=continuous.mean_b, test=continuous.test, statistic=continuous.statistic,
            p_value=continuous.p_value, p_wilcoxon=p_wilcoxon, effect_name="mean difference",
            effect=continuous.difference, effect_ci_low=continuous.low, effect_ci_high=continuous.high,
            standardized=continuous.cohens_dz,
        ))
    adjusted = holm([item.p_value for item in out])
    return [
        item.model_copy(update={"p_holm": p, "significant": p is not None and p < ALPHA})
        for item, p in zip(out, adjusted, strict=True)
    ]


def compare_models(
    images: Sequence[ImageAdherence], models: Sequence[str],
    methods: Sequence[DimensionMethod], score_columns: Mapping[str, str], *, seed: int = 0,
) -> list[Comparison]:
    """All pairs of ``models`` (in the given order) compared on their shared prompt+seed images."""
    out: list[Comparison] = []
    for model_a, model_b in combinations(models, 2):
        out += compare_pair(images, model_a, model_b, methods, score_columns, seed=seed)
    return out
