"""Methods against people in a real run: ``viewfinder score`` stores agreement, corrected
rates and the plan; a method people disagree with loses its verdict and the headline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labels_fixture import make_import_run
from typer.testing import CliRunner

from viewfinder.analyze.analyzers.faces import SPECS as FACES_SPECS
from viewfinder.cli import app
from viewfinder.judge.fields import JUDGE_SPECS
from viewfinder.score import check_text, load_score_report, report_sentences
from viewfinder.score.people_model import load_people_report
from viewfinder.store import Label, Measurement, RunStore


@pytest.fixture()
def labelled_run(tmp_path: Path) -> Path:
    """40 imported images (two models), judge and faces camera answers, people's labels on 30."""
    run_dir = make_import_run(tmp_path, 40)
    with RunStore(run_dir, create=False) as store:
        ids = [row.id for row in store.images()]
        truth = {image_id: ("eye-level", "low-angle", "high-angle")[(k * 7) % 3] for k, image_id in enumerate(ids)}
        # wrong on every tenth image, except where the truth is the wrong answer: 28 of the first 30 right
        judge = {image_id: truth[image_id] if k % 10 else "high-angle" for k, image_id in enumerate(ids)}
        faces = {image_id: ("eye-level", "low-angle")[(k // 3) % 2] for k, image_id in enumerate(ids)}  # unrelated
        for name, answers, specs in (("judge", judge, JUDGE_SPECS), ("faces", faces, FACES_SPECS)):
            store.register_specs(name, "1", specs)  # the roles that make them answers on camera angle
            store.write_analysis(name, "1", [Measurement(i, "camera_angle", text=a) for i, a in answers.items()], ids)
        people = [Label(i, "camera_angle", "ann", truth[i], "csv") for i in ids[:30]]
        people += [
            Label(i, "camera_angle", "bob", truth[i] if k % 5 else "dutch", "csv") for k, i in enumerate(ids[:10])
        ]
        store.add_labels(people)
    return run_dir


def test_score_measures_methods_against_people_and_withholds_distrusted_verdicts(labelled_run: Path) -> None:
    result = CliRunner().invoke(app, ["score", str(labelled_run)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "against people: 40 labels of 30 images by 2 labeller(s)" in text
    assert "plan: Camera angle (VLM judge), all models:" in text
    with RunStore(labelled_run, create=False) as store:
        people = load_people_report(store)
        report = load_score_report(store)
    assert people is not None and report is not None
    judge = next(m for m in people.methods if m.method == "judge")
    faces = next(m for m in people.methods if m.method == "faces")
    assert judge.n == 30 and judge.accuracy == pytest.approx(28 / 30) and judge.trusted is True
    assert sum(map(sum, judge.matrix)) == 30 and judge.kappa is not None and judge.kappa > 0.8
    assert faces.trusted is False and faces.kappa is not None and faces.kappa < 0.4
    pooled = judge.corrected[-1]
    assert pooled.model == "*" and pooled.n_labelled == 30 and pooled.raw_n == 40
    assert pooled.rate is not None and pooled.ci_low <= pooled.rate <= pooled.ci_high
    assert [c.model for c in judge.corrected] == ["import:alpha", "import:beta", "*"]
    assert people.labellers_agreement[0].dimension == "camera_angle" and people.labellers_agreement[0].images == 10
    assert people.labellers_agreement[0].alpha is not None and people.labellers_agreement[0].alpha < 1
    faces_result = report.dimension("camera_angle", "faces")
    judge_result = report.dimension("camera_angle", "judge")
    assert faces_result is not None and judge_result is not None
    assert faces_result.overall.verdict is None and all(r.verdict is None for r in faces_result.per_model.values())
    assert judge_result.overall.verdict is not None
    assert any("No verdict word for camera_angle (faces)" in note for note in report.notes)
    sentences = [s.text for s in report_sentences(report) if "faces analyzer" in s.text and "adherence" in s.text]
    assert sentences and all("no verdict" in s and "which is" not in s for s in sentences)


def test_review_plan_and_export_carry_people(labelled_run: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["score", str(labelled_run)]).exit_code == 0
    plan = runner.invoke(app, ["review", str(labelled_run), "--plan", "--width", "0.2"])
    assert plan.exit_code == 0, plan.output
    assert "Camera angle (VLM judge), all models: now" in " ".join(plan.output.split())
    assert runner.invoke(app, ["export", str(labelled_run), "--format", "csv"]).exit_code == 0
    people = json.loads((labelled_run / "export.people.json").read_text(encoding="utf-8"))
    assert {m["method"] for m in people["methods"]} == {"judge", "faces"}
    assert people["methods"][0]["corrected"][0]["model"] == "import:alpha"


def test_the_report_says_whether_the_numbers_can_be_trusted(labelled_run: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["score", str(labelled_run)]).exit_code == 0
    assert runner.invoke(app, ["report", str(labelled_run)]).exit_code == 0
    post = (labelled_run / "report" / "post.md").read_text(encoding="utf-8")
    html = (labelled_run / "report" / "index.html").read_text(encoding="utf-8")
    assert "## Can these numbers be trusted?" in post and "<h2>Can these numbers be trusted?</h2>" in html
    section = post.split("## Can these numbers be trusted?")[1].split("## Sources")[0]
    assert "Camera angle (VLM judge) against people on 30 images: accuracy 0.93" in section
    assert "Camera angle (faces analyzer)" in section and "gets no verdict word" in section
    faces_rows = [line for line in section.splitlines() if line.startswith("| Camera angle (faces analyzer)")]
    assert faces_rows and all("(no verdict)" in row for row in faces_rows)
    assert "Krippendorff's alpha" in section
    assert check_text(post) == [] and check_text(html) == []
    title = post.splitlines()[0]
    assert "faces analyzer" not in title  # the headline never rests on a method people disagree with


def test_plan_before_analysis_says_what_to_run(tmp_path: Path) -> None:
    run_dir = make_import_run(tmp_path, 4)
    result = CliRunner().invoke(app, ["review", str(run_dir), "--plan"])
    assert result.exit_code == 0
    assert "no method answers a dimension yet: run 'viewfinder analyze" in " ".join(result.output.split())


def test_labels_given_after_scoring_reach_the_export_and_the_report(labelled_run: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["score", str(labelled_run)]).exit_code == 0
    with RunStore(labelled_run, create=False) as store:
        late = store.images()[35].id
        store.add_labels([Label(late, "camera_angle", "cy", "eye-level", "review")])
    result = runner.invoke(app, ["export", str(labelled_run), "--format", "csv"])
    assert result.exit_code == 0, result.output
    people = json.loads((labelled_run / "export.people.json").read_text(encoding="utf-8"))
    assert people["labels"] == 41 and people["labellers"] == ["ann", "bob", "cy"]
    assert "label.cy.camera_angle" in (labelled_run / "export.csv").read_text(encoding="utf-8").splitlines()[0]
    assert runner.invoke(app, ["report", str(labelled_run)]).exit_code == 0
    post = (labelled_run / "report" / "post.md").read_text(encoding="utf-8")
    assert "People labelled 31 images (41 labels by 3 labeller(s))" in " ".join(post.split())


def test_a_version_2_run_gains_the_labels_tables(tmp_path: Path) -> None:
    import sqlite3

    from viewfinder.store.schema import MIGRATIONS, SCHEMA_VERSION

    with sqlite3.connect(tmp_path / "viewfinder.sqlite") as conn:
        conn.executescript(MIGRATIONS[0] + MIGRATIONS[1])
        conn.execute("PRAGMA user_version=2")
    with RunStore(tmp_path) as store:
        assert store.schema_version == SCHEMA_VERSION == 4
        assert store.labels() == [] and store.image_sources() == {} and store.review_sample("review") == []
