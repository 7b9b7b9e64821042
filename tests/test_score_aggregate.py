"""Scoring a stored run: adherence counts, not-judged images, agreement, comparisons, grid effects, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console
from test_score_support import TrueRates, build_run, study
from typer.testing import CliRunner

from viewfinder.cli import app
from viewfinder.score import (
    AGGREGATE_NAME,
    ScoreReport,
    build_score_report,
    load_score_report,
    report_sentences,
    run_scoring,
)
from viewfinder.score.stats import cohens_kappa, wilson_interval
from viewfinder.store import Measurement, RunStore


def _report(store) -> ScoreReport:
    return build_score_report(store.images(), store.measurement_table(), study(), store.spec_records())


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ScoreReport]:
    """The default synthetic run and its score report, shared by the read-only tests."""
    run_dir = tmp_path_factory.mktemp("scored") / "run"
    with build_run(run_dir) as store:
        return run_dir, _report(store)


def _open(run_dir: Path) -> RunStore:
    return RunStore(run_dir, create=False)


def test_emotion_counts_match_the_stored_answers(scored: tuple[Path, ScoreReport]) -> None:
    run_dir, report = scored
    with _open(run_dir) as store:
        images = {image.id: image for image in store.images()}
        rows = [
            {"model": images[m.image_id].model, "emotion": images[m.image_id].emotion, "text": m.text}
            for m in store.measurements("judge")
            if m.name == "expression"
        ]
    accepted = {"Jealousy": {"contempt", "anger", "sadness"}, "Joy": {"happiness"}}
    result = report.dimension("emotion", "judge")
    assert result is not None
    for model in ("fal:model-a", "fal:model-b"):
        mine = [r for r in rows if r["model"] == model]
        judged = [r for r in mine if r["text"] != "no face"]
        k = sum(r["text"] in accepted[r["emotion"]] for r in judged)
        rate = result.per_model[model]
        assert (rate.k, rate.n, rate.n_not_judged) == (k, len(judged), len(mine) - len(judged))
        assert (rate.ci_low, rate.ci_high) == pytest.approx(wilson_interval(k, len(judged)))
    # the synthetic truth: model a follows the emotion far more often than model b
    assert result.per_model["fal:model-a"].rate > 0.6 > 0.4 > result.per_model["fal:model-b"].rate


def test_no_face_and_unclear_are_counted_apart_never_as_failures(tmp_path: Path) -> None:
    with build_run(tmp_path) as store:
        ids = [row.id for row in store.images()][:3]
        store.write_analysis(
            "judge",
            "1",
            [
                Measurement(ids[0], "expression", text="no face"),
                Measurement(ids[1], "expression", text="unclear"),
                Measurement(ids[2], "expression", text="contempt"),
            ],
            ids,
        )
        images = store.images(ids)
        table = store.measurement_table()
        specs = store.spec_records()
    report = build_score_report(images, {i: table.get(i, {}) for i in ids}, study(), specs)
    rate = report.dimension("emotion", "judge").overall  # type: ignore[union-attr]
    assert (rate.k, rate.n, rate.n_not_judged, rate.rate) == (1, 1, 2, 1.0)
    assert rate.not_judged_reasons == {"no face": 1, "unclear": 1}
    sentence = next(s.text for s in report_sentences(report) if s.text.startswith("Emotion (VLM judge)"))
    assert "1 of 1 judged images, 2 not judged: 1 no face, 1 unclear)" in sentence


def test_shot_size_counts_only_prompts_that_name_one(scored: tuple[Path, ScoreReport]) -> None:
    run_dir, report = scored
    with _open(run_dir) as store:
        with_shot = sum(1 for row in store.images() if "close-up" in row.camera)
    overall = report.dimension("shot_size", "judge").overall  # type: ignore[union-attr]
    assert overall.n + overall.n_not_judged == with_shot < report.n_images


def test_breakdowns_cover_every_factor_and_add_up(scored: tuple[Path, ScoreReport]) -> None:
    _, report = scored
    scene = report.dimension("scene", "judge")
    assert [b.by for b in scene.breakdowns] == ["category", "emotion", "camera", "style"]  # type: ignore[union-attr]
    by_style = scene.breakdowns[3]  # type: ignore[union-attr]
    for model, total in scene.per_model.items():  # type: ignore[union-attr]
        cells = [row.rate for row in by_style.rows if row.model == model]
        assert sum(c.k for c in cells) == total.k and sum(c.n for c in cells) == total.n
    clip = report.score("clip.clip_score")
    assert clip is not None and clip.direction == "higher" and clip.overall.n == report.n_images
    assert clip.per_model["fal:model-a"].mean > clip.per_model["fal:model-b"].mean


def test_agreement_between_judge_and_faces(scored: tuple[Path, ScoreReport]) -> None:
    run_dir, report = scored
    with _open(run_dir) as store:
        table = store.measurement_table()
    emotion = next(a for a in report.agreements if a.dimension == "emotion")
    pairs = [
        (v["judge.expression"], v["faces.expression"])
        for v in table.values()
        if v["judge.expression"] != "no face" and v["faces.expression"] != "no face"
    ]
    expected = cohens_kappa([a for a, _ in pairs], [b for _, b in pairs])
    assert emotion.n == len(pairs) == sum(map(sum, emotion.matrix))
    assert emotion.kappa == pytest.approx(expected.kappa)
    assert emotion.ci_low < emotion.kappa < emotion.ci_high
    assert emotion.verdict in {"moderate", "substantial", "almost perfect"}
    assert {a.dimension for a in report.agreements} == {"camera_angle", "emotion"}  # no faces.shot_size stored
    follows = next(a for a in report.agreements if (a.dimension, a.basis) == ("emotion", "adherence"))
    with _open(run_dir) as store:
        images = {row.id: row.emotion for row in store.images()}
    accepted = {"Jealousy": {"contempt", "anger", "sadness"}, "Joy": {"happiness"}}
    flags = [
        (v["judge.expression"] in accepted[images[i]], v["faces.expression"] in accepted[images[i]])
        for i, v in table.items()
        if v["judge.expression"] != "no face" and v["faces.expression"] != "no face"
    ]
    assert follows.labels == ["follows", "does not follow"]
    assert follows.matrix[0][0] == sum(a and b for a, b in flags) and follows.n == len(flags)
    assert follows.kappa == pytest.approx(cohens_kappa([str(a) for a, _ in flags], [str(b) for _, b in flags]).kappa)


def test_models_compared_on_paired_images_with_holm(scored: tuple[Path, ScoreReport]) -> None:
    _, report = scored
    by_target = {c.target: c for c in report.comparisons}
    emotion = by_target["emotion/judge"]
    assert emotion.kind == "binary" and emotion.significant and emotion.effect > 0.3
    assert emotion.discordant is not None and emotion.discordant[0] > emotion.discordant[1]
    assert by_target["style/judge"].significant is False  # same true rate for both models
    clip = by_target["clip.clip_score"]
    assert clip.kind == "continuous" and clip.test == "paired permutation" and clip.n_pairs == report.n_images // 2
    assert clip.effect == pytest.approx(0.03, abs=0.015) and clip.effect_ci_low > 0
    for item in report.comparisons:
        if item.p_value is not None:
            assert item.p_holm >= item.p_value


def test_grid_effect_finds_low_angle_hurting_emotion(tmp_path: Path) -> None:
    rates = TrueRates(emotion={"fal:model-a": 0.9, "fal:model-b": 0.9}, low_angle_emotion=0.1)
    with build_run(tmp_path, rates) as store:
        report = _report(store)
    effect = next(e for e in report.grid_effects if (e.dimension, e.method, e.by) == ("emotion", "judge", "camera"))
    pooled = {row.level: row.rate.rate for row in effect.rows if row.model == "*"}
    assert pooled["low-angle close-up"] < 0.4 < 0.7 < pooled["eye-level"]
    assert effect.test == "Fisher exact" and effect.p_value < 0.001
    assert effect.spread == pytest.approx(pooled["eye-level"] - pooled["low-angle close-up"])


def test_run_scoring_stores_the_report(tmp_path: Path) -> None:
    with build_run(tmp_path) as store:
        report = run_scoring(store, study(), Console(file=open(tmp_path / "log.txt", "w")))
        assert load_score_report(store) == report
        body = store.aggregate(AGGREGATE_NAME)
    assert "NaN" not in json.dumps(body)
    clip = report.score("clip.clip_score")
    assert clip is not None and clip.measures == "CLIP image-prompt cosine."  # the analyzer's own definition
    camera = report.score("clip.clip_camera")
    assert camera is not None and camera.per_model["fal:model-a"].verdict == "poor"  # mean 0.18 < 0.20
    assert "clip.clip_camera" not in {c.target for c in report.comparisons}
    assert any(note.startswith("1 of 72 images have prompts longer than CLIP's text context") for note in report.notes)
    assert "Emotion (VLM judge)" in (tmp_path / "log.txt").read_text()


def test_score_command(tmp_path: Path) -> None:
    build_run(tmp_path / "run").close()
    result = CliRunner().invoke(app, ["score", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    with _open(tmp_path / "run") as store:
        assert load_score_report(store).n_images == 72  # type: ignore[union-attr]
    missing = CliRunner().invoke(app, ["score", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "not a run folder" in missing.output
    assert "Traceback" not in missing.output


def test_scoring_an_unanalysed_run_gives_an_empty_report(tmp_path: Path) -> None:
    with build_run(tmp_path) as store:
        report = build_score_report(store.images(), {}, study(), [])
    assert report.n_images == 72 and report.dimensions == [] and report.scores == [] and report.comparisons == []


def test_score_command_prints_json_and_conclusions(tmp_path: Path) -> None:
    build_run(tmp_path / "run").close()
    result = CliRunner().invoke(app, ["score", str(tmp_path / "run"), "--json", "--conclusions"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout.strip().splitlines()[-1])
    assert ScoreReport.model_validate(body).n_images == 72
    assert "- Emotion (VLM judge) adherence for fal:model-a scored" in result.stdout


def test_match_answers_read_numbers_and_words() -> None:
    from test_score_support import declared_specs

    from viewfinder.score.adherence import dimension_methods, read_answer
    from viewfinder.store import StoredSpec

    DIMENSION_METHODS = dimension_methods(
        StoredSpec(analyzer, "1", spec) for analyzer, specs in declared_specs().items() for spec in specs
    )

    scene = next(m for m in DIMENSION_METHODS if m.dimension == "scene")
    assert [read_answer(scene, raw) for raw in (1.0, 0.0, "yes", "No", "maybe", None)] == [
        "1",
        "0",
        "1",
        "0",
        None,
        None,
    ]
    emotion = next(m for m in DIMENSION_METHODS if (m.dimension, m.method) == ("emotion", "faces"))
    assert [read_answer(emotion, raw) for raw in ("Angry", "no face", "unclear")] == ["anger", None, None]


def test_rates_cover_the_truth_when_some_images_cannot_be_judged() -> None:
    """Simulated studies of 50 images, 20% without a face: the Wilson interval of the judged
    images covers the true adherence rate in about 95% of runs, and no-face images never
    count as failures."""
    import numpy as np

    from viewfinder.score.aggregate import rate_of

    rng = np.random.default_rng(11)
    hits, runs = 0, 1500
    for _ in range(runs):
        truth = rng.uniform(0.05, 0.95)
        flags = [None if rng.random() < 0.2 else bool(rng.random() < truth) for _ in range(50)]
        rate = rate_of(flags)
        assert rate.n + rate.n_not_judged == 50 and rate.k == sum(f is True for f in flags)
        hits += rate.ci_low <= truth <= rate.ci_high
    assert 0.93 <= hits / runs <= 0.97
