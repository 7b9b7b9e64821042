"""`viewfinder run/generate` as a user runs them: crash and resume, keys kept secret, exit codes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.servers.fal_server import Fault
from viewfinder.cli import app
from viewfinder.store import sha256_hex

ROOT = Path(__file__).resolve().parent.parent
SEED_STUDY = ROOT / "examples" / "seed.toml"
VIEWFINDER = Path(sys.executable).parent / "viewfinder"
SECRET = "fal-secret-5b1e0d2c9a7f"


def start_server(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.servers.fal_server", "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    return process, process.stdout.readline().strip()


def cli_env(url: str, key: str = SECRET) -> dict[str, str]:
    return {**os.environ, "FAL_KEY": key, "VIEWFINDER_FAL_URL": url, "COLUMNS": "200"}


def run_command(run_dir: Path, concurrency: int, *extra: str) -> list[str]:
    """The `viewfinder run` command line of the subprocess tests: the seed study, generation only."""
    command = [str(VIEWFINDER), "run", str(SEED_STUDY), "--workdir", str(run_dir), "--until", "generate"]
    return [*command, "--concurrency", str(concurrency), *extra]


def job_states(run_dir: Path) -> dict[str, int]:
    db = run_dir / "viewfinder.sqlite"
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return dict(conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())
    except sqlite3.OperationalError:  # schema not created yet
        return {}


TRANSIENT_FAULTS = [  # each retried without a resubmit: 500s on the result, 503s on status, dropped streams
    {"route": "result", "kind": "http", "status": 500, "times": 3, "body": {"detail": "runner crashed"}},
    {"route": "status", "kind": "http", "status": 503, "times": 2, "body": {"detail": "busy"}},
    {"route": "stream", "kind": "drop", "times": 2},
]


@pytest.mark.slow
@pytest.mark.parametrize("faults", [[], TRANSIENT_FAULTS], ids=["clean", "faults"])
def test_sigkill_mid_run_then_resume_completes_every_job_once_without_resubmitting(tmp_path, faults):
    server, url = start_server("--latency", "0.8", "--key", SECRET)
    run_dir = tmp_path / "run"
    command = run_command(run_dir, 3)
    try:
        for fault in faults:
            httpx.post(f"{url}/_control/faults", json=fault).raise_for_status()
        first = subprocess.Popen(command, env=cli_env(url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill while requests are queued and some images are stored. fal's queue has no
        # idempotency key, so a kill inside a submit round trip (the server got the POST, the
        # request id is not committed yet) cannot be told apart from no submit: kill outside it.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = job_states(run_dir)
            posts = [r["at"] for r in httpx.get(f"{url}/_control/requests").json() if r["method"] == "POST"]
            quiet = posts and time.time() - max(posts) > 0.2
            if (
                quiet
                and states.get("completed", 0) >= 2
                and states.get("submitted", 0) == len(posts) - states["completed"]
            ):
                break
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = job_states(run_dir)
        assert killed_at.get("submitted", 0) >= 1 and killed_at.get("pending", 0) >= 1, killed_at

        second = subprocess.run(command, env=cli_env(url), capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        record = httpx.get(f"{url}/_control/requests").json()
    finally:
        server.kill()
        server.wait()

    submitted = [r["body"]["prompt"] for r in record if r["method"] == "POST"]
    with sqlite3.connect(run_dir / "viewfinder.sqlite") as conn:
        conn.row_factory = sqlite3.Row
        jobs = conn.execute("SELECT j.*, p.text FROM jobs j JOIN prompts p ON p.id = j.prompt_id").fetchall()
        images = conn.execute("SELECT * FROM images").fetchall()
        ledger = conn.execute("SELECT * FROM ledger").fetchall()
    assert len(jobs) == 10 and all(job["state"] == "completed" and job["attempts"] == 1 for job in jobs)
    assert sorted(submitted) == sorted(job["text"] for job in jobs)  # each job submitted exactly once
    assert sorted(image["job_id"] for image in images) == sorted(job["id"] for job in jobs)
    assert sorted(row["job_id"] for row in ledger) == sorted(job["id"] for job in jobs)
    on_disk = {path.name for path in (run_dir / "images").rglob("*.*")}
    assert on_disk == {Path(image["path"]).name for image in images}
    for image in images:
        assert sha256_hex((run_dir / image["path"]).read_bytes()) == image["sha256"]


def test_the_key_appears_in_no_file_and_no_output(tmp_path, monkeypatch):
    """Faults whose bodies echo the key, a rejected key, status, dry run, export, score and
    report: grep every file the run folder holds and everything printed."""
    server, url = start_server("--latency", "0.05", "--key", SECRET)
    run_dir = tmp_path / "run"
    printed = []
    try:
        for fault in (
            {
                "route": "submit",
                "kind": "http",
                "status": 422,
                "match": "superhero",
                "body": {
                    "detail": [
                        {"loc": ["body", "prompt"], "msg": f"bad prompt for key {SECRET}", "type": "value_error"}
                    ]
                },
            },
            {
                "route": "result",
                "kind": "http",
                "status": 500,
                "times": 2,
                "body": {"detail": f"runner crashed, auth={SECRET}"},
            },
            {
                "route": "submit",
                "kind": "http",
                "status": 429,
                "headers": {"Retry-After": "0"},
                "body": {"detail": f"slow down {SECRET}"},
            },
        ):
            httpx.post(f"{url}/_control/faults", json=fault).raise_for_status()
        commands = [
            [str(VIEWFINDER), "run", str(SEED_STUDY), "--workdir", str(run_dir), "--until", "generate"],
            [str(VIEWFINDER), "status", str(run_dir), "--json"],
            [str(VIEWFINDER), "generate", str(run_dir), "--dry-run"],
        ]
        for command in commands:
            done = subprocess.run(command, env=cli_env(url), capture_output=True, text=True, timeout=120)
            printed += [done.stdout, done.stderr]
        assert "bad prompt for key ***" in printed[1] and "HTTP 429: slow down ***" in printed[1]
        httpx.post(
            f"{url}/_control/faults",
            json={
                "route": "any",
                "kind": "http",
                "status": 401,
                "times": -1,
                "body": {"detail": f"Invalid key {SECRET}"},
            },
        ).raise_for_status()
        rejected = subprocess.run(
            [str(VIEWFINDER), "generate", str(run_dir)], env=cli_env(url), capture_output=True, text=True, timeout=120
        )
        printed += [rejected.stdout, rejected.stderr]
        assert rejected.returncode == 1 and "HTTP 401" in rejected.stderr and "Traceback" not in rejected.stderr
        monkeypatch.setenv("FAL_KEY", SECRET)
        for command in (
            ["export", str(run_dir), "--format", "jsonl"],
            ["score", str(run_dir)],
            ["report", str(run_dir)],
        ):
            done = CliRunner().invoke(app, command)
            assert done.exit_code == 0, done.output
            printed.append(done.output)
    finally:
        server.kill()
        server.wait()
    files = [path for path in run_dir.rglob("*") if path.is_file()]
    assert len(files) >= 10 and (run_dir / "export.jsonl").exists() and (run_dir / "report" / "index.html").exists()
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
    for text in printed:
        assert SECRET not in text


def test_missing_key_is_bad_input_and_dry_run_needs_no_key(tmp_path, monkeypatch, fal_server):
    monkeypatch.delenv("FAL_KEY")
    runner = CliRunner()
    run_dir = tmp_path / "run"
    result = runner.invoke(app, ["run", str(SEED_STUDY), "--workdir", str(run_dir), "--until", "generate"])
    assert result.exit_code == 2 and "FAL_KEY is not set" in result.output
    result = runner.invoke(app, ["run", str(SEED_STUDY), "--workdir", str(run_dir), "--dry-run", "--limit", "4"])
    assert result.exit_code == 0 and "estimated cost: $0.0120 for 4 images" in result.output
    assert fal_server.requests == []


def test_generate_command_resumes_a_run_folder_and_exits_1_on_failed_jobs(tmp_path, fal_server):
    fal_server.add_fault(Fault("submit", "http", status=422, body={"detail": "prompt too long"}, match="gamer staring"))
    runner = CliRunner()
    run_dir = tmp_path / "run"
    result = runner.invoke(
        app, ["run", str(SEED_STUDY), "--workdir", str(run_dir), "--until", "generate", "--limit", "3"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["generate", str(run_dir), "--concurrency", "2", "--timeout", "5"])
    assert result.exit_code == 1 and "prompt too long" in result.output
    status = json.loads(runner.invoke(app, ["status", str(run_dir), "--json"]).stdout)
    assert status["jobs"] == {"pending": 0, "submitted": 0, "completed": 9, "failed": 1}
    assert status["cost_usd"]["generation"] == pytest.approx(0.027)


def test_any_fal_endpoint_runs_and_max_cost_needs_its_price(tmp_path, fal_server):
    study = tmp_path / "other.toml"
    text = SEED_STUDY.read_text().replace(
        'models = ["fal:fal-ai/flux/schnell"]', 'models = ["fal:someone/new-model/v2"]'
    )
    study.write_text(text)
    runner = CliRunner()
    run_dir = tmp_path / "run"
    result = runner.invoke(
        app, ["run", str(study), "--workdir", str(run_dir), "--until", "generate", "--max-cost", "1"]
    )
    assert result.exit_code == 2 and "no price is known for 'fal:someone/new-model/v2'" in result.output
    assert "[prices]" in result.output and fal_server.requests == []
    study.write_text(text.replace("seeds = [0]", 'seeds = [0]\nprices = {"fal:someone/new-model/v2" = 0.002}'))
    result = runner.invoke(
        app, ["run", str(study), "--workdir", str(run_dir), "--until", "generate", "--max-cost", "1", "--limit", "2"]
    )
    assert result.exit_code == 0, result.output
    assert {r.path for r in fal_server.recorded("POST", "submit")} == {"/someone/new-model/v2"}
    assert {r.path.rsplit("/requests/", 1)[0] for r in fal_server.recorded("GET", "result")} == {"/someone/new-model"}
    assert json.loads(runner.invoke(app, ["status", str(run_dir), "--json"]).stdout)["cost_usd"]["generation"] == 0.004
