"""Models compared on the same prompts and seeds: McNemar for adherence, paired permutation
for scores, Holm correction across every target of one model pair."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

from viewfinder.score.adherence import DimensionMethod, ImageAdherence
from viewfinder.score.model import Comparison
from viewfinder.score.paired import PairedTest, holm, mcnemar, paired_permutation, wilcoxon_signed_rank

ALPHA = 0.05


def _by_pair(images: Sequence[ImageAdherence], model: str) -> dict[tuple, ImageAdherence]:
    return {item.pair_key: item for item in images if item.model == model}


def _comparison(test: PairedTest, models: tuple[str, str], target: str, label: str, **own: Any) -> Comparison:
    """A comparison from what every paired test reports; ``own`` adds what its kind reports."""
    return Comparison(
        target=target,
        label=label,
        n_pairs=test.n,
        test=test.test,
        statistic=test.statistic,
        model_a=models[0],
        model_b=models[1],
        p_value=test.p_value,
        effect=test.difference,
        effect_ci_low=test.low,
        effect_ci_high=test.high,
        **own,
    )


def compare_pair(
    images: Sequence[ImageAdherence],
    model_a: str,
    model_b: str,
    methods: Sequence[DimensionMethod],
    score_columns: Mapping[str, str],
    *,
    seed: int = 0,
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
        out.append(
            _comparison(
                result,
                (model_a, model_b),
                f"{method.dimension}/{method.method}",
                method.label,
                kind="binary",
                value_a=result.rate_a,
                value_b=result.rate_b,
                effect_name="difference in rates",
                standardized=result.odds_ratio,
                discordant=[result.a_only, result.b_only],
            )
        )
    for column, label in score_columns.items():
        values = [(left[k].scores.get(column), right[k].scores.get(column)) for k in shared]
        paired = [(a, b) for a, b in values if a is not None and b is not None]
        if not paired:
            continue
        xs, ys = [a for a, _ in paired], [b for _, b in paired]
        continuous = paired_permutation(xs, ys, seed=seed)
        _, p_wilcoxon = wilcoxon_signed_rank(xs, ys)
        out.append(
            _comparison(
                continuous,
                (model_a, model_b),
                column,
                label,
                kind="continuous",
                p_wilcoxon=p_wilcoxon,
                value_a=continuous.mean_a,
                value_b=continuous.mean_b,
                effect_name="mean difference",
                standardized=continuous.cohens_dz,
            )
        )
    adjusted = holm([item.p_value for item in out])
    return [
        item.model_copy(update={"p_holm": p, "significant": p is not None and p < ALPHA})
        for item, p in zip(out, adjusted, strict=True)
    ]


def compare_models(
    images: Sequence[ImageAdherence],
    models: Sequence[str],
    methods: Sequence[DimensionMethod],
    score_columns: Mapping[str, str],
    *,
    seed: int = 0,
) -> list[Comparison]:
    """All pairs of ``models`` (in the given order) compared on their shared prompt+seed images."""
    out: list[Comparison] = []
    for model_a, model_b in combinations(models, 2):
        out += compare_pair(images, model_a, model_b, methods, score_columns, seed=seed)
    return out
