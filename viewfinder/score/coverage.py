"""Interval coverage by simulation: studies drawn from known true values, at the sizes users run.

Each function draws ``runs`` simulated studies of ``n`` images with a fixed seed, builds the
interval the scorer reports, and returns the share of runs whose 95% interval holds the
truth. True rates are drawn uniformly from [0.05, 0.95] (Wilson is known to dip below 95%
at extreme rates and tiny n; averaging over this range is the honest assessment for the
rates a study meets).
"""

from __future__ import annotations

import numpy as np

from viewfinder.score.paired import mcnemar
from viewfinder.score.stats import bootstrap_mean, cohens_kappa, wilson_bounds

SIZES: tuple[int, ...] = (10, 20, 50, 100, 200, 500, 1000, 2000)
RATE_RANGE = (0.05, 0.95)


def _covers(low: float | None, high: float | None, truth: float) -> bool:
    return low is not None and high is not None and low <= truth <= high


def wilson_coverage(n: int, runs: int = 20000, seed: int = 0) -> float:
    """Share of runs whose Wilson 95% interval of k/n covers the true rate."""
    rng = np.random.default_rng([seed, n])
    truth = rng.uniform(*RATE_RANGE, size=runs)
    k = rng.binomial(n, truth)
    low, high = wilson_bounds(k, n)
    return float(np.mean((low <= truth) & (truth <= high)))


def bootstrap_coverage(n: int, runs: int = 200, seed: int = 0, resamples: int = 1000) -> float:
    """Share of runs whose BCa bootstrap 95% interval of the mean covers the true mean.

    Scores are drawn from a Beta(4, 8) distribution scaled to a CLIP-like range
    (mean 0.2 + 0.2 * 1/3), skewed as real scores are.
    """
    rng = np.random.default_rng([seed, n, 1])
    truth = 0.2 + 0.2 * 4 / 12
    hits = 0
    for run in range(runs):
        values = 0.2 + 0.2 * rng.beta(4, 8, size=n)
        interval = bootstrap_mean(values, resamples=resamples, seed=run)
        hits += _covers(interval.low, interval.high, truth)
    return hits / runs


def kappa_coverage(n: int, runs: int = 1000, seed: int = 0) -> float:
    """Share of runs whose kappa interval covers the true kappa of two raters on 3 labels.

    The true joint distribution: both raters share the true label with probability 0.7 each,
    otherwise answer at random, which gives a known population kappa.
    """
    rng = np.random.default_rng([seed, n, 2])
    labels = np.array(["a", "b", "c"])
    base = np.array([0.5, 0.3, 0.2])
    accuracy = 0.7
    # joint distribution of (rater 1, rater 2) given the true label, then marginalised
    rater = accuracy * np.eye(3) + (1 - accuracy) * base[None, :]  # P(answer | truth)
    joint = np.einsum("t,ti,tj->ij", base, rater, rater)
    po, pe = np.trace(joint), joint.sum(1) @ joint.sum(0)
    truth = (po - pe) / (1 - pe)
    flat = joint.ravel()
    hits = 0
    for _ in range(runs):
        cells = rng.choice(9, size=n, p=flat)
        result = cohens_kappa(labels[cells // 3].tolist(), labels[cells % 3].tolist(), labels.tolist())
        hits += _covers(result.low, result.high, truth)
    return hits / runs


def paired_difference_coverage(n: int, runs: int = 2000, seed: int = 0) -> float:
    """Share of runs whose Newcombe interval of a paired rate difference covers the truth.

    Model A follows with a true rate drawn from [0.05, 0.95]; model B agrees with A on 70% of
    images and otherwise follows independently at A's rate minus 0.1 (clipped), so the pairs
    are positively correlated as paired images are.
    """
    rng = np.random.default_rng([seed, n, 3])
    hits = 0
    for _ in range(runs):
        p_a = rng.uniform(*RATE_RANGE)
        p_other = min(max(p_a - 0.1, 0.0), 1.0)
        a = rng.random(n) < p_a
        same = rng.random(n) < 0.7
        b = np.where(same, a, rng.random(n) < p_other)
        truth = p_a - (0.7 * p_a + 0.3 * p_other)
        result = mcnemar(a, b)
        hits += _covers(result.low, result.high, truth)
    return hits / runs
