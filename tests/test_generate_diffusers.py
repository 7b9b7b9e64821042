"""The local diffusers backend end to end: a tiny random Stable Diffusion pipeline, no network."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from tests.study_text import one_case_study
from tests.tiny_models import build_tiny_sd_pipeline
from viewfinder.cli import app


@pytest.mark.slow
def test_local_pipeline_makes_reproducible_free_images_and_redoes_lost_requests(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipeline = build_tiny_sd_pipeline(tmp_path / "tiny-sd")
    study = tmp_path / "local.toml"
    generation = '[generation]\nwidth = 64\nheight = 64\nnum_inference_steps = 1\noutput_format = "png"\n'
    study.write_text(one_case_study("local", [f"diffusers:{pipeline}"], [1, 2], generation))
    runner = CliRunner()
    first = tmp_path / "run"
    result = runner.invoke(app, ["run", str(study), "--workdir", str(first), "--until", "generate"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(first / "viewfinder.sqlite") as conn:
        conn.row_factory = sqlite3.Row
        images = conn.execute("SELECT * FROM images ORDER BY seed").fetchall()
        jobs = conn.execute("SELECT * FROM jobs").fetchall()
        lost = jobs[0]["id"]
        # A request id from a process that is gone: the next run must redo that job.
        conn.execute(
            "UPDATE jobs SET state='submitted', request_id='local-dead', response=? WHERE id=?",
            (json.dumps({"queue": {}}), lost),
        )
        conn.execute("DELETE FROM ledger WHERE job_id=?", (lost,))
        conn.execute("DELETE FROM images WHERE job_id=?", (lost,))
    assert [(i["format"], i["width"], i["height"], i["cost_usd"], i["seed"]) for i in images] == [
        ("png", 64, 64, 0.0, 1),
        ("png", 64, 64, 0.0, 2),
    ]
    assert images[0]["sha256"] != images[1]["sha256"]  # different seeds, different pictures
    response = json.loads(jobs[0]["response"])["result"]
    assert response["device"] == "cpu" and response["timings"]["inference"] > 0
    assert json.loads(jobs[0]["request"])["num_inference_steps"] == 1

    result = runner.invoke(app, ["run", str(study), "--workdir", str(first), "--until", "generate"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(first / "viewfinder.sqlite") as conn:
        redone = conn.execute("SELECT state, attempts FROM jobs WHERE id=?", (lost,)).fetchone()
        shas = conn.execute("SELECT sha256 FROM images ORDER BY seed").fetchall()
    assert redone == ("completed", 2)
    assert shas == [(images[0]["sha256"],), (images[1]["sha256"],)]  # made again: same seed, same bytes
