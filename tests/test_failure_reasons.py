"""Every stage says why something failed (grouped, with the fix), and costs are never a silent $0."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.servers.fal_server import Fault
from tests.servers.openai_server import FakeOpenAI
from viewfinder.cli import app

ROOT = Path(__file__).resolve().parent.parent
SEED_STUDY = ROOT / "examples" / "seed.toml"
NEW_MODEL = "fal:someone/new-model/v2"


def invoke(*args: str):
    return CliRunner().invoke(app, [str(arg) for arg in args])


@pytest.fixture()
def no_judge_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "VIEWFINDER_JUDGE_PRICE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("command", ["run", "generate", "analyze"])
def test_max_cost_zero_or_negative_is_bad_input(tmp_path, fal_server, command) -> None:
    run_dir = tmp_path / "run"
    assert invoke("run", SEED_STUDY, "--workdir", run_dir, "--dry-run").exit_code == 0
    target = [SEED_STUDY, "--workdir", run_dir, "--dry-run"] if command == "run" else [run_dir]
    for value in ("0", "-1"):
        result = invoke(command, *target, "--max-cost", value)
        assert result.exit_code == 2, result.output
    assert "give a positive amount of USD" in invoke(command, *target, "--max-cost", "0").output
    assert fal_server.requests == []


def test_an_unpriced_model_is_never_a_silent_zero(tmp_path, fal_server, no_judge_keys) -> None:
    study = tmp_path / "new.toml"
    text = SEED_STUDY.read_text()
    study.write_text(text.replace('models = ["fal:fal-ai/flux/schnell"]', f'models = ["{NEW_MODEL}"]'))
    run_dir = tmp_path / "run"
    dry = invoke("run", study, "--workdir", run_dir, "--dry-run")
    assert dry.exit_code == 0 and f"estimated cost: $0.0000 + unpriced ({NEW_MODEL}) for 10 images" in dry.output
    assert dry.output.count("unpriced") >= 11  # every row of the table, and the total
    refused = invoke("run", study, "--workdir", run_dir, "--until", "generate", "--max-cost", "1")
    assert refused.exit_code == 2 and "--allow-unpriced" in refused.output and fal_server.requests == []
    allowed = invoke("run", study, "--workdir", run_dir, "--until", "generate", "--max-cost", "1", "--allow-unpriced")
    assert allowed.exit_code == 0, allowed.output
    assert f"$0.0000 + unpriced ({NEW_MODEL}) this run" in allowed.output
    report = invoke("report", run_dir)
    assert report.exit_code == 0, report.output
    post = (run_dir / "report" / "post.md").read_text()
    assert f"unpriced (no known price, booked at $0): {NEW_MODEL}" in post.replace("\\", "")


def test_the_dry_run_prices_the_judge_and_the_budget_keeps_its_share(tmp_path, fal_server, monkeypatch) -> None:
    with FakeOpenAI() as judge:
        monkeypatch.setenv("OPENAI_BASE_URL", judge.url)
        monkeypatch.setenv("OPENAI_API_KEY", judge.key)
        monkeypatch.delenv("VIEWFINDER_JUDGE_PRICE", raising=False)
        run_dir = tmp_path / "run"
        per_image = (10_000 * 0.15 + 700 * 0.60) / 1e6  # gpt-4o-mini, the cautious estimate
        dry = invoke("run", SEED_STUDY, "--workdir", run_dir, "--dry-run", "--analyzers", "pixels,judge")
        assert dry.exit_code == 0
        assert f"estimated judge cost: ${10 * per_image:.4f} for 10 images with openai:gpt-4o-mini" in dry.output
        result = invoke(
            "run",
            SEED_STUDY,
            "--workdir",
            run_dir,
            "--analyzers",
            "pixels,judge",
            "--max-cost",
            "0.03",
            "--until",
            "analyze",
        )
        assert result.exit_code == 0, result.output
        assert f"budget: ${10 * per_image:.4f} of --max-cost $0.0300 is kept for judging 10 images" in result.output
    with sqlite3.connect(run_dir / "viewfinder.sqlite") as db:
        made = db.execute("SELECT COUNT(*) FROM images").fetchone()[0]
        judged = db.execute("SELECT COUNT(*) FROM analysis_runs WHERE analyzer='judge' AND status='done'").fetchone()[0]
        spent = db.execute("SELECT SUM(usd) FROM ledger").fetchone()[0]
    assert made == 3 and judged == 3 and spent <= 0.03  # generation stopped at its share; every image judged


def test_generation_failures_are_grouped_with_the_fix_in_output_and_status(tmp_path, fal_server) -> None:
    fal_server.add_fault(
        Fault("submit", "http", status=422, body={"detail": "prompt too long"}, times=-1, match="A single")
    )
    run_dir = tmp_path / "run"
    result = invoke("run", SEED_STUDY, "--workdir", run_dir, "--until", "generate")
    assert result.exit_code == 1
    failed = sum(1 for line in SEED_STUDY.read_text().splitlines() if line.startswith('subject = "A single'))
    assert f"generate: {failed} failed, by reason:" in result.output
    line = next(line for line in result.output.splitlines() if "prompt too long" in line)
    assert line.strip().startswith(f"{failed} × 'fal rejected the input (HTTP 422): prompt too long' (job ")
    assert line.endswith("change the prompt or the model's parameters in the study")
    status = json.loads(invoke("status", run_dir, "--json").stdout)
    [group] = status["failures"]
    assert (group["stage"], group["source"], group["count"]) == ("generate", "fal:fal-ai/flux/schnell", failed)
    assert group["fix"] == "change the prompt or the model's parameters in the study"
    table = invoke("status", run_dir).stdout
    assert "failed: fal:fal-ai/flux/schnell" in table and "prompt too long" in table


def test_judge_failures_reach_the_terminal_status_score_export_and_report(image_run, monkeypatch) -> None:
    with FakeOpenAI() as judge:
        monkeypatch.setenv("OPENAI_BASE_URL", judge.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-0123456789")
        run_dir = image_run([np.full((32, 32, 3), 40 * n, dtype=np.uint8) for n in range(3)])
        analyzed = invoke("analyze", run_dir, "--analyzers", "pixels,judge", "--judge", "openai:gpt-4o-mini")
    assert analyzed.exit_code == 1
    assert "judge: 3 failed, by reason:" in analyzed.output
    assert "3 × " in analyzed.output and ": check OPENAI_API_KEY and OPENAI_BASE_URL" in analyzed.output
    status = json.loads(invoke("status", run_dir, "--json").stdout)
    assert [(g["source"], g["count"]) for g in status["failures"]] == [("judge", 3)]
    assert "HTTP 401" in status["failures"][0]["reason"] and "sk-wrong" not in json.dumps(status)
    scored = invoke("score", run_dir)
    assert "first" not in scored.output and "the analyzers failed" in scored.output
    assert "3 × " in scored.output
    exported = invoke("export", run_dir, "--format", "jsonl")
    assert exported.exit_code == 0, exported.output
    rows = [json.loads(line) for line in (run_dir / "export.jsonl").read_text().splitlines()]
    assert all(row["error"].startswith("judge: ") and "HTTP 401" in row["error"] for row in rows)
    assert invoke("report", run_dir).exit_code == 0
    post = (run_dir / "report" / "post.md").read_text()
    assert "Judges: none: 3 images failed" in post and "Judges: none\n" not in post
    assert "Not measured: judge: 3 ×" in post
