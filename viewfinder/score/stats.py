"""Statistics for adherence studies: intervals, agreement, grid effects (paired tests in
:mod:`viewfinder.score.paired`).

All functions take plain numbers or arrays and return plain floats (``None`` when a value is
undefined), so results serialise to JSON without NaN. Random procedures take a seed and are
reproducible.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

Z95 = float(stats.norm.ppf(0.975))
MCNEMAR_EXACT_BELOW = 25  # discordant pairs; below this McNemar uses the exact binomial test
KAPPA_BOOTSTRAP_BELOW = 100  # items both raters judged; below this kappa's interval is a bootstrap
BCA_BELOW = 500  # values; bootstrap means use BCa below this size, percentile above
EXACT_PERMUTATION_UP_TO = 13  # pairs; up to this many the sign-flip test enumerates all 2^n patterns


def finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


# -- proportions ------------------------------------------------------------------------------
def wilson_bounds(k: np.ndarray, n: np.ndarray | int, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised Wilson score interval for ``k`` successes in ``n > 0`` trials."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = np.where(k == 0, 0.0, np.maximum(0.0, centre - half))
    high = np.where(k == n, 1.0, np.minimum(1.0, centre + half))
    return low, high


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval for ``k`` successes in ``n`` trials (None, None when n == 0)."""
    if n <= 0:
        return None, None
    if not 0 <= k <= n:
        raise ValueError(f"k={k} must lie in 0..n={n}")
    low, high = wilson_bounds(np.asarray(k), n, z)
    return float(low), float(high)


# -- means ------------------------------------------------------------------------------------
def expanded_level(n: int, level: float = 0.95) -> float:
    """Hesterberg's (2015) small-sample expansion of a bootstrap interval's nominal level:
    the quantiles of the normal at sqrt(n / (n - 1)) * t_{n-1}; 0.983 at n = 10, 0.952 at 200."""
    t_quantile = float(stats.t.ppf(0.5 + level / 2, n - 1))
    return float(1 - 2 * stats.norm.cdf(-math.sqrt(n / (n - 1)) * t_quantile))


@dataclass(frozen=True)
class MeanInterval:
    n: int
    mean: float | None
    sd: float | None
    low: float | None
    high: float | None


def bootstrap_mean(values: Sequence[float] | np.ndarray, *, resamples: int = 2000, seed: int = 0) -> MeanInterval:
    """Mean with a 95% bootstrap interval (scipy.stats.bootstrap): BCa below
    :data:`BCA_BELOW` values, where skew matters; percentile above it (BCa's jackknife costs
    n^2 there and its correction is negligible) or when BCa is undefined. The quantiles are
    widened for small samples (:func:`expanded_level`): plain BCa covers 90% at 10 values."""
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = int(data.size)
    if n == 0:
        return MeanInterval(0, None, None, None, None)
    mean = float(data.mean())
    sd = float(data.std(ddof=1)) if n > 1 else None
    if n == 1 or np.ptp(data) == 0:
        return MeanInterval(n, mean, sd, mean if n > 1 else None, mean if n > 1 else None)
    method = "BCa" if n < BCA_BELOW else "percentile"
    with warnings.catch_warnings():  # an undefined BCa interval falls back to the percentile one below
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            (data,),
            np.mean,
            n_resamples=resamples,
            method=method,
            confidence_level=expanded_level(n),
            random_state=np.random.default_rng(seed),
        )
    low, high = result.confidence_interval
    if not (math.isfinite(low) and math.isfinite(high)):
        result = stats.bootstrap(
            (data,),
            np.mean,
            n_resamples=resamples,
            method="percentile",
            confidence_level=expanded_level(n),
            random_state=np.random.default_rng(seed),
        )
        low, high = result.confidence_interval
    return MeanInterval(n, mean, sd, finite(low), finite(high))


# -- agreement --------------------------------------------------------------------------------
@dataclass(frozen=True)
class KappaResult:
    n: int
    observed: float | None
    kappa: float | None
    low: float | None
    high: float | None
    labels: list[str]
    matrix: list[list[int]]
    method: str  # "large-sample" or "BCa bootstrap"; "" when kappa is undefined


def confusion_matrix(
    a: Sequence[str], b: Sequence[str], labels: Sequence[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Counts ``m[i, j]`` of items that ``a`` called ``labels[i]`` and ``b`` called ``labels[j]``."""
    if len(a) != len(b):
        raise ValueError("both raters must rate the same items")
    names = list(labels) if labels is not None else sorted(set(a) | set(b))
    index = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(names), len(names)), dtype=int)
    for x, y in zip(a, b, strict=True):
        matrix[index[x], index[y]] += 1
    return names, matrix


def cohens_kappa(
    a: Sequence[str],
    b: Sequence[str],
    labels: Sequence[str] | None = None,
    *,
    interval: str = "auto",
    resamples: int = 2000,
    seed: int = 0,
) -> KappaResult:
    """Cohen's kappa with a 95% interval: the large-sample interval of Fleiss, Cohen & Everitt
    (1969), or below :data:`KAPPA_BOOTSTRAP_BELOW` items (``interval="auto"``) a paired BCa
    bootstrap, because the large-sample interval covers only 85% of the time at 10 items."""
    names, matrix = confusion_matrix(a, b, labels)
    n = int(matrix.sum())
    if n == 0:
        return KappaResult(0, None, None, None, None, names, matrix.tolist(), "")
    p = matrix / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    po = float(np.trace(p))
    pe = float(rows @ cols)
    if pe >= 1:
        return KappaResult(n, po, None, None, None, names, matrix.tolist(), "")
    kappa = (po - pe) / (1 - pe)
    diag = np.diag(p)
    term1 = float(np.sum(diag * (1 - (rows + cols) * (1 - kappa)) ** 2))
    off = p * (cols[:, None] + rows[None, :]) ** 2
    np.fill_diagonal(off, 0.0)
    term2 = (1 - kappa) ** 2 * float(off.sum())
    term3 = (kappa - pe * (1 - kappa)) ** 2
    variance = max(term1 + term2 - term3, 0.0) / (n * (1 - pe) ** 2)
    half = Z95 * math.sqrt(variance)
    low, high, method = max(-1.0, kappa - half), min(1.0, kappa + half), "large-sample"
    if interval == "bootstrap" or (interval == "auto" and n < KAPPA_BOOTSTRAP_BELOW):
        index = {name: i for i, name in enumerate(names)}
        codes_a = np.array([index[x] for x in a])
        codes_b = np.array([index[y] for y in b])
        boot = _bootstrap_kappa(codes_a, codes_b, len(names), resamples, seed)
        if boot is not None:
            low, high, method = boot[0], boot[1], "BCa bootstrap"
    return KappaResult(n, po, kappa, low, high, names, matrix.tolist(), method)


def _kappa_of_codes(a: np.ndarray, b: np.ndarray, size: int) -> np.ndarray:
    """Kappa along the last axis of integer-coded ratings (vectorised over leading axes).

    A resample where both raters used one and the same label (chance agreement 1) counts as
    kappa 1, so that rare resamples of small studies do not make the whole interval undefined."""
    one_a = a[..., None] == np.arange(size)
    one_b = b[..., None] == np.arange(size)
    po = (a == b).mean(axis=-1)
    pe = (one_a.mean(axis=-2) * one_b.mean(axis=-2)).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pe >= 1, 1.0, (po - pe) / (1 - pe))


def _bootstrap_kappa(a: np.ndarray, b: np.ndarray, size: int, resamples: int, seed: int) -> tuple[float, float] | None:
    """Paired BCa bootstrap interval of kappa; None when it is undefined (e.g. one label only)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = stats.bootstrap(
                (a, b),
                lambda x, y, axis: _kappa_of_codes(x, y, size),
                paired=True,
                vectorized=True,
                n_resamples=resamples,
                method="BCa",
                random_state=np.random.default_rng(seed),
            )
        except ValueError:
            return None
    low, high = result.confidence_interval
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return max(-1.0, float(low)), min(1.0, float(high))


# -- grid effects --------------------------------------------------------
def homogeneity_test(table: Sequence[tuple[int, int]]) -> tuple[str, float | None]:
    """Do rates differ across levels? ``table`` rows are (adherent, not adherent) per level.
    Fisher's exact test for two levels, the chi-square test of independence for more."""
    rows = [row for row in table if sum(row) > 0]
    if len(rows) < 2:
        return "", None
    counts = np.asarray(rows, dtype=int)
    if np.any(counts.sum(axis=0) == 0):
        return ("Fisher exact" if len(rows) == 2 else "chi-square"), 1.0
    if len(rows) == 2:
        return "Fisher exact", float(stats.fisher_exact(counts).pvalue)
    return "chi-square", float(stats.chi2_contingency(counts).pvalue)
