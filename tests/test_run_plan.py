"""The jobs of a run come from the study and the command line: dry runs write nothing, --model is
not remembered, --limit is the first N jobs of the grid, prune drops what the study no longer asks."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.test_generate_cli import SEED_STUDY, cli_env, job_states, run_command, start_server
from viewfinder.cli import app
from viewfinder.generate.plan import plan_jobs, select_jobs
from viewfinder.store import RunStore
from viewfinder.study import load_study

DEV = "fal:fal-ai/flux/dev"


def invoke(*args: str):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the hash of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def image_job_ids(run_dir: Path) -> list[str]:
    with sqlite3.connect(run_dir / "viewfinder.sqlite") as conn:
        return [row[0] for row in conn.execute("SELECT job_id FROM images ORDER BY job_id")]


def test_a_dry_run_writes_nothing_not_even_the_folder(tmp_path, fal_server):
    run_dir = tmp_path / "run"
    result = invoke("run", SEED_STUDY, "--workdir", run_dir, "--dry-run", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "estimated cost: $0.0090 for 3 images" in result.output
    assert not run_dir.exists() and fal_server.requests == []

    assert invoke("run", SEED_STUDY, "--workdir", run_dir, "--until", "generate", "--limit", "2").exit_code == 0
    before = snapshot(run_dir)
    for args in (
        ("run", SEED_STUDY, "--workdir", run_dir, "--dry-run", "--model", DEV),
        ("run", SEED_STUDY, "--workdir", run_dir, "--dry-run"),
        ("generate", run_dir, "--dry-run"),
        ("status", run_dir, "--json"),
    ):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        assert snapshot(run_dir) == before, args
    dry = invoke("run", SEED_STUDY, "--workdir", run_dir, "--dry-run")
    assert "estimated cost: $0.0240 for 8 images; spent so far: $0.0060" in dry.output  # 2 of 10 are made

    # the case: a dry run of another model, then a plain run makes the study's model
    assert invoke("run", SEED_STUDY, "--workdir", run_dir, "--until", "generate", "--limit", "4").exit_code == 0
    assert {r.path for r in fal_server.recorded("POST", "submit")} == {"/fal-ai/flux/schnell"}
    assert len(fal_server.submissions()) == 4


@pytest.mark.parametrize("mode", [["--dry-run"], ["--until", "generate"], []])
def test_an_unknown_backend_is_bad_input_in_every_mode_and_touches_nothing(tmp_path, fal_server, mode):
    run_dir = tmp_path / "run"
    result = invoke("run", SEED_STUDY, "--workdir", run_dir, "--model", "nope:x", *mode)
    assert result.exit_code == 2 and "no generation backend 'nope'" in result.output
    assert "bfl, diffusers, fal, openai, replicate" in result.output
    assert not run_dir.exists() and fal_server.requests == []
    study = tmp_path / "nope.toml"
    study.write_text(SEED_STUDY.read_text().replace('models = ["fal:fal-ai/flux/schnell"]', 'models = ["nope:x"]'))
    result = invoke("run", study, "--workdir", run_dir, *mode)
    assert result.exit_code == 2 and "no generation backend 'nope'" in result.output and not run_dir.exists()


def test_model_is_not_remembered_and_generate_uses_the_stored_study(tmp_path, fal_server):
    run_dir = tmp_path / "run"
    result = invoke("run", SEED_STUDY, "--workdir", run_dir, "--until", "generate", "--model", DEV, "--limit", "2")
    assert result.exit_code == 0, result.output
    assert {r.path for r in fal_server.recorded("POST", "submit")} == {"/fal-ai/flux/dev"}

    result = invoke("generate", run_dir, "--limit", "3")
    assert result.exit_code == 0, result.output
    posts = [r.path for r in fal_server.recorded("POST", "submit")]
    assert posts.count("/fal-ai/flux/dev") == 2 and posts.count("/fal-ai/flux/schnell") == 3
    text = " ".join(result.output.split())
    assert f"10 jobs of {DEV} (2 completed) not in this run: `viewfinder prune {run_dir}` drops them" in text

    result = invoke("run", SEED_STUDY, "--workdir", run_dir, "--until", "generate", "--model", DEV, "--limit", "2")
    assert result.exit_code == 0 and len(fal_server.submissions()) == 5  # nothing new to make
    text = " ".join(result.output.split())
    assert "10 jobs of fal:fal-ai/flux/schnell (3 completed) not in this run: the study's; left alone" in text


def test_prune_drops_jobs_the_study_no_longer_asks_for_and_keeps_files_and_costs(tmp_path, fal_server):
    run_dir = tmp_path / "run"
    assert (
        invoke("run", SEED_STUDY, "--workdir", run_dir, "--until", "generate", "--model", DEV, "--limit", "2").exit_code
        == 0
    )
    assert (
        invoke(
            "run", SEED_STUDY, "--workdir", run_dir, "--until", "analyze", "--limit", "3", "--analyzers", "pixels"
        ).exit_code
        == 0
    )
    files = sorted(path.name for path in (run_dir / "images").rglob("*.*"))
    with RunStore(run_dir) as store:
        spent = store.total_cost()
        measured = len(store.measurements())
        per_image = measured // 5
    assert len(files) == 3 and per_image > 0  # the fake server draws from prompt and seed: dev's 2 share files

    result = invoke("prune", run_dir)
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert f"dropped 10 jobs of {DEV}" in text
    assert f"with 2 image rows, {2 * per_image} measurements and 2 analysis outcomes" in text
    status = json.loads(invoke("status", run_dir, "--json").stdout)
    assert status["jobs"] == {"pending": 7, "submitted": 0, "completed": 3, "failed": 0} and status["images"] == 3
    assert status["cost_usd"]["total"] == pytest.approx(spent)  # the ledger keeps what was spent
    assert sorted(path.name for path in (run_dir / "images").rglob("*.*")) == files
    with RunStore(run_dir) as store:
        assert {job.model for job in store.jobs()} == {"fal:fal-ai/flux/schnell"}
        assert len(store.measurements()) == measured - 2 * per_image
    result = invoke("prune", run_dir)
    assert result.exit_code == 0 and "nothing to prune" in result.stdout


def test_the_same_limit_twice_makes_the_first_n_jobs_of_the_grid_once(tmp_path, fal_server):
    run_dir = tmp_path / "run"
    for _ in range(2):
        result = invoke("run", SEED_STUDY, "--workdir", run_dir, "--until", "generate", "--limit", "3")
        assert result.exit_code == 0, result.output
    first_three = sorted(job.id for job in plan_jobs(load_study(SEED_STUDY))[:3])
    assert image_job_ids(run_dir) == first_three and len(fal_server.submissions()) == 3


def test_select_jobs_waits_for_paid_requests_first_and_skips_completed(tmp_path):
    study = load_study(SEED_STUDY)
    planned = plan_jobs(study)
    with RunStore(tmp_path / "run") as store:
        store.add_jobs(planned)
        first, second, third = planned[:3]
        store.complete_job(first.id)
        late = planned[7].id  # submitted by an earlier run with a larger limit: already paid for
        for job_id in (third.id, late):
            store.mark_submitted(
                job_id, request_id="r", request={}, response={"queue": {"status_url": "u"}}, attempts=1
            )
        stored = store.jobs()
    todo = select_jobs(planned, stored, limit=3)
    assert [job.id for job in todo] == [third.id, late, second.id]
    assert todo[0].response == {"queue": {"status_url": "u"}}
    assert len(select_jobs(planned, stored, None)) == 9
    fresh = select_jobs(planned, [], limit=2)  # a dry run on no folder: pending records from the plan
    assert [(job.id, job.state, job.prompt_text) for job in fresh] == [
        (job.id, "pending", job.prompt.text) for job in planned[:2]
    ]


@pytest.mark.slow
def test_limit_then_sigkill_then_the_same_command_makes_exactly_n_images(tmp_path):
    server, url = start_server("--latency", "0.8", "--key", "fal-secret-5b1e0d2c9a7f")
    run_dir = tmp_path / "run"
    command = run_command(run_dir, 2, "--limit", "6")
    try:
        first = subprocess.Popen(command, env=cli_env(url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and job_states(run_dir).get("completed", 0) < 2:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = job_states(run_dir)
        assert 2 <= killed_at.get("completed", 0) < 6, killed_at
        second = subprocess.run(command, env=cli_env(url), capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        again = subprocess.run(command, env=cli_env(url), capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        posts = [r for r in httpx.get(f"{url}/_control/requests").json() if r["method"] == "POST"]
    finally:
        server.kill()
        server.wait()
    first_six = sorted(job.id for job in plan_jobs(load_study(SEED_STUDY))[:6])
    assert image_job_ids(run_dir) == first_six
    assert 6 <= len(posts) <= 7  # a kill inside one submit round trip may submit that job again
