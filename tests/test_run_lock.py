"""One process writes to a run folder at a time: a second writer exits 2 naming the holder, readers
keep working, a killed holder frees the folder, and two `viewfinder run` never pay twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from test_score_support import build_run
from typer.testing import CliRunner

from tests.test_generate_cli import ROOT, SEED_STUDY, VIEWFINDER, cli_env, job_states, run_command, start_server
from viewfinder.cli import app
from viewfinder.errors import BadInput
from viewfinder.store import RunStore
from viewfinder.store.lock import LOCK_NAME

HOLD = (
    "import sys, time\n"
    "from viewfinder.store import RunStore\n"
    "store = RunStore(sys.argv[1])\n"
    "print('held', flush=True)\n"
    "time.sleep(600)\n"
)


def hold_lock(run_dir: Path) -> subprocess.Popen:
    """Another process that opens ``run_dir`` for writing and keeps it open."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], env=env, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_is_refused_naming_the_holder_until_the_holder_is_killed(tmp_path):
    run_dir = tmp_path / "run"
    with RunStore(run_dir) as store:
        store.set_meta("study_name", "seed")
    holder = hold_lock(run_dir)
    try:
        started = time.monotonic()
        with pytest.raises(BadInput) as refused:
            RunStore(run_dir)
        assert time.monotonic() - started < 2  # at once, no waiting
        message = str(refused.value)
        assert f"PID {holder.pid} running: -c {run_dir}" in message and "status, export" in message
        with RunStore(run_dir, readonly=True) as reader:  # readers need no lock
            assert reader.get_meta("study_name") == "seed"
    finally:
        holder.kill()
        holder.wait()
    with RunStore(run_dir) as first, RunStore(run_dir) as nested:  # one process may nest its stores
        nested.set_meta("k", 1)
        assert json.loads((run_dir / LOCK_NAME).read_text())["pid"] == os.getpid()
        assert first.get_meta("k") == 1
    assert (run_dir / LOCK_NAME).read_text() == ""  # the last close frees it and names no holder


def test_status_export_and_report_read_a_scored_run_while_another_process_writes(tmp_path):
    run_dir = tmp_path / "run"
    build_run(run_dir).close()
    runner = CliRunner()
    assert runner.invoke(app, ["score", str(run_dir)]).exit_code == 0
    holder = hold_lock(run_dir)
    try:
        for command in (
            ["status", str(run_dir), "--json"],
            ["export", str(run_dir), "--format", "csv"],
            ["report", str(run_dir)],
        ):
            result = runner.invoke(app, command)
            assert result.exit_code == 0, (command, result.output)
        for command in (
            ["score", str(run_dir)],
            ["analyze", str(run_dir)],
            ["generate", str(run_dir)],
            ["prune", str(run_dir)],
        ):
            result = runner.invoke(app, command)
            assert result.exit_code == 2 and f"PID {holder.pid}" in result.output, (command, result.output)
    finally:
        holder.kill()
        holder.wait()
    assert (run_dir / "export.csv").exists() and (run_dir / "report" / "index.html").exists()


@pytest.mark.slow
def test_two_runs_on_one_folder_never_pay_twice(tmp_path):
    server, url = start_server("--latency", "2.0", "--key", "fal-secret-5b1e0d2c9a7f")
    run_dir = tmp_path / "run"
    command = run_command(run_dir, 2)
    env = cli_env(url, "fal-secret-5b1e0d2c9a7f")
    try:
        first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not job_states(run_dir).get("submitted"):
            time.sleep(0.05)
        assert str(first.pid) in (run_dir / LOCK_NAME).read_text()
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        status = subprocess.run(
            [str(VIEWFINDER), "status", str(run_dir), "--json"], env=env, capture_output=True, text=True, timeout=60
        )
        assert first.poll() is None, "the first run ended before the second one was tried"
        assert second.returncode == 2, second.stderr
        message = " ".join(second.stderr.split())
        assert f"PID {first.pid} running: {VIEWFINDER} run {SEED_STUDY}" in message and "Traceback" not in message
        assert status.returncode == 0 and sum(json.loads(status.stdout)["jobs"].values()) == 10
        assert first.wait(timeout=120) == 0
        third = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert third.returncode == 0, third.stderr
        posts = [r["body"]["prompt"] for r in httpx.get(f"{url}/_control/requests").json() if r["method"] == "POST"]
    finally:
        server.kill()
        server.wait()
    assert len(posts) == len(set(posts)) == 10  # each image paid once
    assert job_states(run_dir) == {"completed": 10}
