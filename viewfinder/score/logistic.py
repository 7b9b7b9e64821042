"""Grid effects as a logistic model: adherence ~ model + camera + style + emotion.

Firth's penalised likelihood (Firth 1993) keeps estimates finite when a level has only
successes or only failures (separation), which small studies meet often. Each factor is
dummy-coded against its first level in grid order; the result is an odds ratio per level
with a Wald 95% interval and p-value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from viewfinder.score.stats import Z95


@dataclass(frozen=True)
class Term:
    """One dummy-coded level: the odds ratio of adherence against the reference level."""

    factor: str
    level: str
    reference: str
    odds_ratio: float
    ci_low: float
    ci_high: float
    p_value: float


@dataclass(frozen=True)
class Fit:
    n: int
    terms: list[Term]
    converged: bool


def design(rows: Sequence[dict[str, str]], factors: Sequence[str]) -> tuple[np.ndarray, list[tuple[str, str, str]]]:
    """Intercept plus one dummy column per non-reference level of each factor with 2+ levels."""
    columns: list[np.ndarray] = [np.ones(len(rows))]
    names: list[tuple[str, str, str]] = []
    for factor in factors:
        levels = list(dict.fromkeys(row[factor] for row in rows))
        for level in levels[1:]:
            columns.append(np.array([row[factor] == level for row in rows], dtype=float))
            names.append((factor, level, levels[0]))
    return np.column_stack(columns), names


def firth_logistic(
    x: np.ndarray, y: np.ndarray, *, max_iter: int = 100, tol: float = 1e-8
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Firth-penalised logistic regression by Newton steps; returns (coefficients, covariance, converged)."""
    beta = np.zeros(x.shape[1])
    converged = False
    covariance = np.eye(x.shape[1])
    for _ in range(max_iter):
        p = 1 / (1 + np.exp(-(x @ beta)))
        w = p * (1 - p)
        information = x.T @ (w[:, None] * x)
        covariance = np.linalg.pinv(information)
        hat = w * np.einsum("ij,jk,ik->i", x, covariance, x)
        step = covariance @ (x.T @ (y - p + hat * (0.5 - p)))
        largest = float(np.max(np.abs(step)))
        if largest > 5:  # keep Newton steps modest: the penalised likelihood is concave but flat far out
            step *= 5 / largest
        beta = beta + step
        if largest < tol:
            converged = True
            break
    p = 1 / (1 + np.exp(-(x @ beta)))
    covariance = np.linalg.pinv(x.T @ ((p * (1 - p))[:, None] * x))
    return beta, covariance, converged


def fit_adherence(rows: Sequence[dict[str, str]], outcomes: Sequence[bool], factors: Sequence[str]) -> Fit | None:
    """Odds ratios of adherence for each factor level; None with fewer than 10 judged images or no variation."""
    y = np.asarray(outcomes, dtype=float)
    if y.size < 10 or y.min() == y.max():
        return None
    x, names = design(rows, factors)
    if not names:
        return None
    beta, covariance, converged = firth_logistic(x, y)
    terms = []
    for index, (factor, level, reference) in enumerate(names, start=1):
        se = math.sqrt(max(float(covariance[index, index]), 0.0))
        estimate = float(beta[index])
        p_value = float(2 * stats.norm.sf(abs(estimate) / se)) if se > 0 else 1.0
        terms.append(
            Term(
                factor,
                level,
                reference,
                math.exp(estimate),
                math.exp(estimate - Z95 * se),
                math.exp(estimate + Z95 * se),
                p_value,
            )
        )
    return Fit(int(y.size), terms, converged)
