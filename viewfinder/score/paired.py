"""Paired comparisons of two models on the same prompts and seeds, and Holm's adjustment.

Plain numbers in, plain floats out (``None`` when undefined); random procedures take a seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from viewfinder.score.stats import (
    EXACT_PERMUTATION_UP_TO,
    MCNEMAR_EXACT_BELOW,
    bootstrap_mean,
    finite,
    wilson_interval,
)


# -- paired comparisons -----------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class PairedTest:
    """What a paired comparison of ``a`` and ``b`` reports: the test, its statistic and p, and
    the difference ``a - b`` with its 95% interval."""

    n: int
    test: str
    statistic: float | None
    p_value: float | None
    difference: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True, kw_only=True)
class PairedBinary(PairedTest):
    rate_a: float | None
    rate_b: float | None
    a_only: int
    b_only: int
    odds_ratio: float | None


def mcnemar(a: Sequence[bool] | np.ndarray, b: Sequence[bool] | np.ndarray) -> PairedBinary:
    """McNemar's test on paired binary outcomes (exact binomial below 25 discordant pairs),
    with the rate difference ``a - b`` and its Newcombe (1998, method 10) 95% interval."""
    x, y = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if x.shape != y.shape:
        raise ValueError("paired outcomes must have the same length")
    n = int(x.size)
    if n == 0:
        return PairedBinary(
            n=0,
            test="McNemar",
            statistic=None,
            p_value=None,
            difference=None,
            low=None,
            high=None,
            rate_a=None,
            rate_b=None,
            a_only=0,
            b_only=0,
            odds_ratio=None,
        )
    both = int(np.sum(x & y))
    a_only = int(np.sum(x & ~y))
    b_only = int(np.sum(~x & y))
    neither = n - both - a_only - b_only
    discordant = a_only + b_only
    if discordant == 0:
        test, statistic, p_value = "McNemar exact", 0.0, 1.0
    elif discordant < MCNEMAR_EXACT_BELOW:
        test, statistic = "McNemar exact", float(a_only)
        p_value = float(stats.binomtest(a_only, discordant, 0.5).pvalue)
    else:
        test = "McNemar chi-square"
        statistic = (abs(a_only - b_only) - 1) ** 2 / discordant
        p_value = float(stats.chi2.sf(statistic, 1))
    low, high = _newcombe_paired(both, a_only, b_only, neither)
    odds = None if b_only == 0 else a_only / b_only
    rate_a, rate_b = (both + a_only) / n, (both + b_only) / n
    return PairedBinary(
        n=n,
        test=test,
        statistic=statistic,
        p_value=p_value,
        difference=rate_a - rate_b,
        low=low,
        high=high,
        rate_a=rate_a,
        rate_b=rate_b,
        a_only=a_only,
        b_only=b_only,
        odds_ratio=odds,
    )


def _newcombe_paired(a: int, b: int, c: int, d: int) -> tuple[float, float]:
    """Newcombe's hybrid score interval for the difference of paired proportions."""
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson_interval(a + b, n)
    l2, u2 = wilson_interval(a + c, n)
    assert l1 is not None and u1 is not None and l2 is not None and u2 is not None
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    if denominator == 0:
        phi = 0.0
    else:
        cross = a * d - b * c
        numerator = max(cross - n / 2, 0.0) if cross > 0 else float(cross)
        phi = numerator / math.sqrt(denominator)
    delta = p1 - p2
    dl = (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2
    du = (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2
    return max(-1.0, delta - math.sqrt(max(dl, 0.0))), min(1.0, delta + math.sqrt(max(du, 0.0)))


@dataclass(frozen=True, kw_only=True)
class PairedContinuous(PairedTest):
    mean_a: float | None
    mean_b: float | None
    cohens_dz: float | None


def paired_permutation(
    a: Sequence[float], b: Sequence[float], *, resamples: int = 9999, seed: int = 0
) -> PairedContinuous:
    """Paired sign-flip permutation test of the mean difference ``a - b`` (exact up to
    :data:`EXACT_PERMUTATION_UP_TO` pairs, else ``resamples`` random sign patterns), with a
    bootstrap 95% interval of the difference and Cohen's d_z."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError("paired scores must have the same length")
    n = int(x.size)
    test = "paired permutation"
    if n == 0:
        return PairedContinuous(
            n=0,
            test=test,
            statistic=None,
            p_value=None,
            difference=None,
            low=None,
            high=None,
            mean_a=None,
            mean_b=None,
            cohens_dz=None,
        )
    diff = x - y
    mean_diff = float(diff.mean())
    means = {"mean_a": float(x.mean()), "mean_b": float(y.mean())}
    sd = float(diff.std(ddof=1)) if n > 1 else 0.0
    if n < 2 or sd == 0:
        bound = mean_diff if n > 1 else None
        return PairedContinuous(
            n=n,
            test=test,
            statistic=mean_diff,
            p_value=1.0 if mean_diff == 0 else None,
            difference=mean_diff,
            low=bound,
            high=bound,
            cohens_dz=None,
            **means,
        )
    interval = bootstrap_mean(diff, seed=seed)
    return PairedContinuous(
        n=n,
        test=test,
        statistic=mean_diff,
        p_value=_sign_flip_p(diff, resamples, seed),
        difference=mean_diff,
        low=interval.low,
        high=interval.high,
        cohens_dz=mean_diff / sd,
        **means,
    )


def _sign_flip_p(diff: np.ndarray, resamples: int, seed: int, batch: int = 1000) -> float:
    """Two-sided p of the mean of ``diff`` under random signs (exact enumeration for small n)."""
    n = diff.size
    observed = abs(float(diff.mean()))
    tolerance = 1e-12 * max(1.0, observed)
    if n <= EXACT_PERMUTATION_UP_TO:
        signs = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2 - 1
        return float(np.mean(np.abs(signs @ diff) / n >= observed - tolerance))
    rng = np.random.default_rng(seed)
    extreme = 0
    for start in range(0, resamples, batch):
        signs = rng.integers(0, 2, size=(min(batch, resamples - start), n), dtype=np.int8) * 2 - 1
        extreme += int(np.sum(np.abs(signs @ diff) / n >= observed - tolerance))
    return (extreme + 1) / (resamples + 1)


def wilcoxon_signed_rank(a: Sequence[float], b: Sequence[float]) -> tuple[float | None, float | None]:
    """Wilcoxon signed-rank statistic and two-sided p for paired scores (None when all ties)."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size == 0 or np.all(diff == 0):
        return None, None
    result = stats.wilcoxon(diff)
    return finite(result.statistic), finite(result.pvalue)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (None stays None and is not counted)."""
    present = [(p, i) for i, p in enumerate(p_values) if p is not None]
    m = len(present)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted
