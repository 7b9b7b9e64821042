"""Krippendorff's alpha for nominal labels: how far labellers agree beyond chance, with any
number of labellers per image and missing labels (Krippendorff 2011, "Computing
Krippendorff's alpha-reliability")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AlphaResult:
    """Alpha over ``units`` images labelled by two or more people (``pairable`` labels)."""

    alpha: float | None
    ci_low: float | None
    ci_high: float | None
    units: int
    pairable: int


def _coincidences(units: Sequence[Sequence[int]], size: int) -> np.ndarray:
    matrix = np.zeros((size, size))
    for values in units:
        m = len(values)
        counts = np.bincount(values, minlength=size).astype(float)
        matrix += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    return matrix


def _alpha(matrix: np.ndarray) -> float | None:
    totals = matrix.sum(axis=1)
    n = totals.sum()
    expected = (n * n - float(totals @ totals)) / (n - 1) if n > 1 else 0.0
    if expected <= 0:
        return None
    observed = n - float(np.trace(matrix))
    return 1.0 - observed / expected


def krippendorff_alpha(
    ratings: Mapping[Any, Sequence[str]],
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> AlphaResult:
    """Nominal alpha of ``ratings`` (``{image: [label of each labeller]}``), with a 95%
    percentile bootstrap interval over images; images with one label do not count."""
    names = sorted({label for values in ratings.values() for label in values})
    index = {name: i for i, name in enumerate(names)}
    units = [[index[v] for v in values] for values in ratings.values() if len(values) >= 2]
    pairable = sum(len(values) for values in units)
    if not units:
        return AlphaResult(None, None, None, 0, 0)
    per_unit = [_coincidences([unit], len(names)) for unit in units]
    alpha = _alpha(sum(per_unit, np.zeros((len(names), len(names)))))
    low = high = None
    if alpha is not None and len(units) >= 2:
        stack = np.stack(per_unit)
        rng = np.random.default_rng(seed)
        draws = [_alpha(stack[rng.integers(0, len(units), len(units))].sum(axis=0)) for _ in range(resamples)]
        kept = [1.0 if d is None else d for d in draws]  # a resample with one label used throughout agrees fully
        low, high = (float(q) for q in np.quantile(kept, [0.025, 0.975]))
    return AlphaResult(alpha, low, high, len(units), pairable)
