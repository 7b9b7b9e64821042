"""Statistics against people: PPI++ (checked against ppi-python and the closed form),
its coverage by simulation, accuracy and kappa with people, Krippendorff's alpha."""

from __future__ import annotations

import math

import numpy as np
import pytest

from viewfinder.score.krippendorff import krippendorff_alpha
from viewfinder.score.people_agreement import agreement_with_people
from viewfinder.score.ppi import labels_for_width, ppi_mean, tuned_lambda
from viewfinder.score.ppi_coverage import ppi_coverage


def _study(seed: int, n: int = 60, big_n: int = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.random(n + big_n) < 0.6
    yhat = np.where(truth, rng.random(n + big_n) < 0.8, rng.random(n + big_n) < 0.3).astype(float)
    return truth[:n].astype(float), yhat[:n], yhat[n:]


@pytest.mark.parametrize("lam", [None, 1.0, 0.0])
def test_ppi_matches_ppi_python(lam: float | None) -> None:
    ppi_py = pytest.importorskip("ppi_py")
    for seed in range(5):
        y, yhat, unlabelled = _study(seed)
        ours = ppi_mean(y, yhat, unlabelled, lam=lam, small_sample=False)
        assert ours is not None
        low, high = ppi_py.ppi_mean_ci(y, yhat, unlabelled, alpha=0.05, lam=lam)
        point = ppi_py.ppi_mean_pointestimate(y, yhat, unlabelled, lam=lam)
        assert ours.estimate == pytest.approx(float(np.ravel(point)[0]), abs=1e-12)
        assert (ours.ci_low, ours.ci_high) == pytest.approx(
            (float(np.ravel(low)[0]), float(np.ravel(high)[0])), abs=1e-12
        )


def test_ppi_closed_form_by_hand() -> None:
    y = np.array([1.0, 1.0, 0.0, 1.0])
    yhat = np.array([1.0, 0.0, 0.0, 1.0])
    unlabelled = np.array([1.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    result = ppi_mean(y, yhat, unlabelled, lam=1.0, small_sample=False)
    assert result is not None
    # 4/6 from the judge on the unlabelled images, plus the mean correction (0+1+0+0)/4
    assert result.estimate == pytest.approx(4 / 6 + 0.25)
    half = 1.959963984540054 * math.sqrt(np.var([0, 1, 0, 0]) / 4 + np.var(unlabelled) / 6)
    assert result.ci_high - result.estimate == pytest.approx(half)
    # tuned weight: covariance / ((1 + n/N) * variance of all answers)
    expected = np.mean((y - y.mean()) * (yhat - yhat.mean())) / ((1 + 4 / 6) * np.var(np.r_[yhat, unlabelled], ddof=1))
    assert tuned_lambda(y, yhat, unlabelled) == pytest.approx(min(1.0, expected))


def test_a_biased_judge_is_corrected_towards_the_truth() -> None:
    rng = np.random.default_rng(3)
    truth = rng.random(2200) < 0.3
    yhat = np.where(truth, 1.0, (rng.random(2200) < 0.5).astype(float))  # says yes to half the failures
    result = ppi_mean(truth[:200].astype(float), yhat[:200], yhat[200:])
    assert result is not None
    assert yhat.mean() > 0.6  # the raw rate is far off
    assert result.ci_low <= 0.3 <= result.ci_high and result.ci_high - result.ci_low < 0.15


def test_no_labels_no_estimate_and_all_labelled_is_the_labels_mean() -> None:
    assert ppi_mean([1.0], [1.0], [0.0, 1.0]) is None
    result = ppi_mean([1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [])
    assert result is not None and result.estimate == pytest.approx(0.75) and result.lam == 0.0


@pytest.mark.parametrize("n", [20, 50, 200])
def test_coverage_by_simulation_is_between_93_and_97_percent(n: int) -> None:
    coverage, width = ppi_coverage(n, runs=1500)
    assert 0.93 <= coverage <= 0.97, coverage
    assert width < {20: 0.45, 50: 0.27, 200: 0.13}[n]


def test_labels_for_width_shrinks_the_interval_to_the_target() -> None:
    y, yhat, unlabelled = _study(1, n=40, big_n=2000)
    result = ppi_mean(y, yhat, unlabelled)
    needed = labels_for_width(result, 0.1)
    assert needed is not None and needed > 40
    rng = np.random.default_rng(9)
    truth = rng.random(needed + 2000) < 0.6
    more = np.where(truth, rng.random(truth.size) < 0.8, rng.random(truth.size) < 0.3).astype(float)
    bigger = ppi_mean(truth[:needed].astype(float), more[:needed], more[needed:])
    assert bigger is not None and bigger.ci_high - bigger.ci_low < 0.11
    assert labels_for_width(None, 0.2) == math.ceil(0.25 / (0.1 / 1.959963984540054) ** 2)
    assert labels_for_width(result, 0.001) is None  # the unlabelled part alone is wider


def test_agreement_with_people_counts_and_kappa() -> None:
    people = ["eye-level"] * 6 + ["low-angle"] * 4
    method = ["eye-level"] * 5 + ["low-angle"] + ["low-angle"] * 3 + ["eye-level"]
    result = agreement_with_people(people, method, ["eye-level", "high-angle", "low-angle"])
    assert result.n == 10 and result.accuracy == pytest.approx(0.8)
    assert result.labels == ["eye-level", "low-angle"] and result.matrix == [[5, 1], [1, 3]]
    # po 0.8, pe 0.6*0.6 + 0.4*0.4 = 0.52
    assert result.kappa == pytest.approx((0.8 - 0.52) / 0.48)
    assert result.accuracy_low is not None and result.accuracy_low < 0.8 < result.accuracy_high
    assert result.kappa_low is not None and result.kappa_low < result.kappa < result.kappa_high


def test_krippendorff_alpha_matches_the_published_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers, 12 units, nominal 0.743
    rows = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    ratings = {unit: [str(row[unit]) for row in rows if row[unit] is not None] for unit in range(12)}
    result = krippendorff_alpha(ratings)
    assert result.alpha == pytest.approx(0.743, abs=5e-4)
    assert result.units == 11 and result.pairable == 40
    assert result.ci_low is not None and result.ci_low < 0.743 < result.ci_high
    assert krippendorff_alpha({"a": ["x"], "b": ["y"]}).alpha is None
