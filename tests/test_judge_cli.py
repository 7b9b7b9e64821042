"""The judge as a user runs it: ``viewfinder run`` / ``viewfinder analyze`` against local fakes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.servers.fal_server import FAL_TEST_KEY, FalFakeServer
from tests.servers.openai_server import FakeOpenAI, good_answer
from viewfinder.cli import app
from viewfinder.store import RunStore

SEED = Path(__file__).resolve().parents[1] / "examples" / "seed.toml"


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "FAL_KEY", "VIEWFINDER_JUDGE_PRICE", "VIEWFINDER_FAL_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_run_then_analyze_again_with_the_default_judge(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    run_dir = tmp_path / "seed-run"
    with FalFakeServer(latency_s=0.02, key=FAL_TEST_KEY) as fal, FakeOpenAI() as judge:
        judge.responder = lambda request: good_answer(people=0, face_visible=False, camera_angle="high-angle")
        env = {
            "VIEWFINDER_FAL_URL": fal.url,
            "FAL_KEY": FAL_TEST_KEY,
            "OPENAI_BASE_URL": judge.url,
            "OPENAI_API_KEY": judge.key,
        }
        runner = CliRunner()
        result = runner.invoke(
            app, ["run", str(SEED), "--workdir", str(run_dir), "--analyzers", "judge", "--until", "analyze"], env=env
        )
        assert result.exit_code == 0, result.output
        assert "judge: openai:gpt-4o-mini (auto: OPENAI_API_KEY is set)" in result.output
        assert len(judge.requests) == 10
        again = runner.invoke(app, ["analyze", str(run_dir), "--analyzers", "judge"], env=env)
        assert again.exit_code == 0 and "0 measured, 10 already stored" in again.output
        assert len(judge.requests) == 10
    with RunStore(run_dir, create=False) as store:
        table = store.measurement_table()
        assert len(table) == 10
        assert {row["judge.expression"] for row in table.values()} == {"no face"}
        assert {row["judge.camera_angle"] for row in table.values()} == {"high-angle"}
        assert {row["judge.camera_reference"] for row in table.values()} == {"main subject"}  # people = 0
        status = store.status()
    assert status["cost_usd"]["judge"] > 0
    for text in (result.output, again.output, json.dumps(status)):
        assert judge.key not in text and FAL_TEST_KEY not in text


def test_no_judge_configured_says_how_to_configure_one(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, image_run
) -> None:
    import numpy as np

    run_dir = image_run([np.zeros((16, 16, 3), dtype=np.uint8)])
    result = CliRunner().invoke(app, ["analyze", str(run_dir), "--analyzers", "judge"])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "no VLM judge is configured; set OPENAI_API_KEY" in text and "--judge hf:<model id>" in text


def run_judged(study: Path, run_dir: Path, latency_s: float, *options: str) -> tuple[str, list[float], FalFakeServer]:
    """`viewfinder run ... --analyzers judge --until analyze` against fake fal and a fake judge;
    returns the output, when each image was judged, and the fal fake (to read its request times)."""
    judged_at: list[float] = []
    with FalFakeServer(latency_s=latency_s, key=FAL_TEST_KEY) as fal, FakeOpenAI() as judge:

        def answer(request: dict) -> dict:
            judged_at.append(time.time())
            return good_answer()

        judge.responder = answer
        env = {
            "VIEWFINDER_FAL_URL": fal.url,
            "FAL_KEY": FAL_TEST_KEY,
            "OPENAI_BASE_URL": judge.url,
            "OPENAI_API_KEY": judge.key,
        }
        command = ["run", str(study), "--workdir", str(run_dir), "--analyzers", "judge", "--until", "analyze"]
        result = CliRunner().invoke(app, [*command, *options], env=env)
        assert result.exit_code == 0, result.output
    return result.output, judged_at, fal


def test_run_judges_the_first_images_while_later_ones_are_still_generating(clean_env, tmp_path: Path) -> None:
    """10 jobs at C=1, 0.15 s each, judge batches of 2: judging must begin well before the
    last image is generated (a stage-after-stage run judges only after the tenth)."""
    study = tmp_path / "seed.toml"
    study.write_text(SEED.read_text() + "\n[analysis]\nbatch_size = 2\n")
    output, judged_at, fal = run_judged(study, tmp_path / "run", 0.15, "--concurrency", "1")
    last_submit = max(r.at for r in fal.recorded("POST", "submit"))
    assert "10 measured" in output
    assert len(judged_at) == 10
    assert sum(at < last_submit for at in judged_at) >= 4


def test_with_a_budget_run_judges_only_after_generation(clean_env, tmp_path: Path) -> None:
    """--max-cost: one budget for two stages, so they run one after the other."""
    _, judged_at, fal = run_judged(SEED, tmp_path / "run", 0.05, "--max-cost", "5")
    last_download = max(r.at for r in fal.recorded("GET", "file"))
    assert len(judged_at) == 10 and min(judged_at) > last_download
