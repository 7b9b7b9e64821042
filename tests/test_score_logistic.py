"""The Firth logistic model of adherence on the grid factors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_score_support import TrueRates, build_run, study

from viewfinder.score import build_score_report, report_sentences
from viewfinder.score.logistic import firth_logistic, fit_adherence


def test_recovers_known_coefficients_on_a_large_sample() -> None:
    rng = np.random.default_rng(0)
    n = 20000
    x1, x2 = rng.random(n) < 0.5, rng.random(n) < 0.3
    y = rng.random(n) < 1 / (1 + np.exp(-(-0.5 + 1.0 * x1 - 0.8 * x2)))
    beta, covariance, converged = firth_logistic(np.column_stack([np.ones(n), x1, x2]).astype(float), y.astype(float))
    assert converged
    assert beta == pytest.approx([-0.5, 1.0, -0.8], abs=0.08)
    assert np.sqrt(np.diag(covariance)) == pytest.approx([0.023, 0.030, 0.034], abs=0.005)


def test_separation_gives_the_firth_closed_form() -> None:
    # one level with 10 of 10 successes: plain maximum likelihood diverges; Firth for a 2x2
    # table equals adding 0.5 to every cell: OR = (3.5 / 7.5) / (10.5 / 0.5)
    rows = [{"camera": "eye-level"}] * 10 + [{"camera": "low-angle"}] * 10
    fit = fit_adherence(rows, [True] * 13 + [False] * 7, ["camera"])
    assert fit is not None and fit.converged
    (term,) = fit.terms
    assert (term.level, term.reference) == ("low-angle", "eye-level")
    assert term.odds_ratio == pytest.approx((3.5 / 7.5) / (10.5 / 0.5), rel=1e-6)
    assert term.ci_low < term.odds_ratio < term.ci_high < 1


def test_no_fit_without_variation_or_data() -> None:
    rows = [{"camera": "a"}, {"camera": "b"}] * 10
    assert fit_adherence(rows, [True] * 20, ["camera"]) is None
    assert fit_adherence(rows[:4], [True, False, True, False], ["camera"]) is None


def test_report_model_finds_the_planted_low_angle_effect(tmp_path: Path) -> None:
    rates = TrueRates(emotion={"fal:model-a": 0.9, "fal:model-b": 0.9}, low_angle_emotion=0.1)
    with build_run(tmp_path, rates) as store:
        report = build_score_report(store.images(), store.measurement_table(), study(), store.spec_records())
    model = next(m for m in report.logistic if (m.dimension, m.method) == ("emotion", "judge"))
    assert model.formula == "adherence ~ model + camera + style + emotion"
    terms = {(t.factor, t.level): t for t in model.terms}
    camera = terms[("camera", "low-angle close-up")]
    assert camera.reference == "eye-level" and camera.odds_ratio < 0.2 and camera.p_value < 0.001
    assert terms[("style", "watercolor")].p_value > 0.05
    assert any("low-angle close-up" in s.text and "multiplies the odds" in s.text for s in report_sentences(report))


def test_false_positive_rate_is_near_five_percent_without_an_effect() -> None:
    """Studies of 72 images with no grid effect: the camera term is 'significant' in about 5% of them."""
    rng = np.random.default_rng(1)
    rows = [
        {"model": m, "camera": c, "style": s, "emotion": e}
        for m in "ab"
        for c in ("eye-level", "low-angle")
        for s in ("cinematic", "watercolor")
        for e in ("Jealousy", "Joy", "Fear")
        for _ in range(3)
    ]
    runs, rejected = 400, 0
    for _ in range(runs):
        fit = fit_adherence(rows, list(rng.random(len(rows)) < 0.7), ["model", "camera", "style", "emotion"])
        assert fit is not None
        rejected += next(t for t in fit.terms if t.factor == "camera").p_value < 0.05
    assert 0.02 <= rejected / runs <= 0.08
