"""How well a method's answers agree with people's reference labels: accuracy and Cohen's
kappa with 95% bootstrap intervals over images, and the confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from viewfinder.score.stats import cohens_kappa


@dataclass(frozen=True)
class LabelAgreement:
    """A method against people on one dimension; ``matrix[i][j]`` counts images people labelled
    ``labels[i]`` and the method answered ``labels[j]``."""

    n: int
    accuracy: float | None
    accuracy_low: float | None
    accuracy_high: float | None
    kappa: float | None
    kappa_low: float | None
    kappa_high: float | None
    labels: list[str]
    matrix: list[list[int]]


def accuracy_interval(hits: np.ndarray, *, resamples: int = 2000, seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap 95% interval of the share of ``hits`` (resampling images)."""
    if len(hits) < 2:
        return None
    rng = np.random.default_rng(seed)
    means = hits[rng.integers(0, len(hits), size=(resamples, len(hits)))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high)


def agreement_with_people(
    people: Sequence[str],
    method: Sequence[str],
    order: Sequence[str] = (),
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> LabelAgreement:
    """Accuracy and kappa of ``method``'s answers against ``people``'s labels (paired by image);
    ``order`` orders the confusion matrix (labels not in it follow, sorted)."""
    if len(people) != len(method):
        raise ValueError("people and method differ in length")
    used = set(people) | set(method)
    labels = [label for label in order if label in used] + sorted(used - set(order))
    if not people:
        return LabelAgreement(0, None, None, None, None, None, None, labels, [])
    hits = np.array([a == b for a, b in zip(people, method, strict=True)], dtype=float)
    interval = accuracy_interval(hits, resamples=resamples, seed=seed)
    kappa = cohens_kappa(people, method, labels, interval="bootstrap", resamples=resamples, seed=seed)
    return LabelAgreement(
        n=len(hits),
        accuracy=float(hits.mean()),
        accuracy_low=interval[0] if interval else None,
        accuracy_high=interval[1] if interval else None,
        kappa=kappa.kappa,
        kappa_low=kappa.low,
        kappa_high=kappa.high,
        labels=kappa.labels,
        matrix=kappa.matrix,
    )
