"""Coverage of the corrected (prediction-powered) adherence interval, by simulation.

Each simulated study has images whose true adherence is drawn at a rate from [0.2, 0.8]; a
judge with known error rates (it calls a following image "follows" with probability
``sensitivity`` and a failing one "fails" with probability ``specificity``) answers on all
of them, and people label ``n_labelled`` drawn at random. The share of studies whose 95%
interval holds the true rate is the coverage (``bench/ppi_coverage.py`` prints it).
"""

from __future__ import annotations

import numpy as np

from viewfinder.score.ppi import ppi_mean

LABELLED_SIZES: tuple[int, ...] = (20, 30, 50, 100, 200, 400)


def ppi_coverage(
    n_labelled: int,
    n_unlabelled: int = 1000,
    *,
    runs: int = 2000,
    sensitivity: float = 0.85,
    specificity: float = 0.7,
    seed: int = 0,
    lam: float | None = None,
    small_sample: bool = True,
) -> tuple[float, float]:
    """(coverage, mean interval width) of the PPI++ interval over ``runs`` simulated studies."""
    rng = np.random.default_rng([seed, n_labelled, n_unlabelled])
    hits, widths = 0, []
    for _ in range(runs):
        rate = rng.uniform(0.2, 0.8)
        truth = rng.random(n_labelled + n_unlabelled) < rate
        says_yes = np.where(truth, rng.random(truth.size) < sensitivity, rng.random(truth.size) >= specificity)
        y, yhat = truth[:n_labelled].astype(float), says_yes.astype(float)
        result = ppi_mean(y, yhat[:n_labelled], yhat[n_labelled:], lam=lam, small_sample=small_sample)
        if result is None:
            continue
        hits += result.ci_low <= rate <= result.ci_high
        widths.append(result.ci_high - result.ci_low)
    return hits / runs, float(np.mean(widths))
