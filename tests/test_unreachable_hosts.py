"""Unreachable hosts stop a stage at once, with one line naming the host and the cause."""

from __future__ import annotations

import io
import socket
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from typer.testing import CliRunner

from tests.servers.fal_server import FAL_TEST_KEY
from viewfinder.analyze.runner import run_analysis
from viewfinder.cli import app
from viewfinder.runfolder import open_run

ROOT = Path(__file__).resolve().parent.parent
SEED_STUDY = ROOT / "examples" / "seed.toml"


def closed_port() -> int:
    """A local port nothing listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_generation_stops_after_a_few_refused_connections_and_keeps_finished_work(tmp_path, monkeypatch) -> None:
    port = closed_port()
    monkeypatch.setenv("FAL_KEY", FAL_TEST_KEY)
    monkeypatch.setenv("VIEWFINDER_FAL_URL", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    result = CliRunner().invoke(
        app, ["run", str(SEED_STUDY), "--workdir", str(tmp_path / "run"), "--until", "generate", "--concurrency", "4"]
    )
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert f"cannot reach 127.0.0.1:{port}" in result.output and "Finished work is kept" in result.output
    assert result.output.count("cannot reach") == 1
    assert result.output.count("retry ") <= 4 and elapsed < 8, (elapsed, result.output)
    status = CliRunner().invoke(app, ["status", str(tmp_path / "run"), "--json"])
    assert '"completed": 0' in status.stdout and '"pending": 10' in status.stdout  # nothing marked failed for good


def test_the_judge_stops_when_its_server_cannot_be_reached(image_run, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{closed_port()}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    run_dir = image_run([np.full((32, 32, 3), n * 20, dtype=np.uint8) for n in range(6)])
    store, study = open_run(run_dir)
    log = io.StringIO()
    started = time.monotonic()
    with store:
        summary = run_analysis(
            store, study, ["judge"], judge="openai:gpt-4o-mini", max_cost=None, console=Console(file=log, width=200)
        )
        failed = {run.error for run in store.analysis_runs("judge") if run.status == "failed"}
    outcome = summary.analyzers[0]
    assert time.monotonic() - started < 8
    assert outcome.failed == 6 and outcome.error is not None and "cannot reach 127.0.0.1:" in outcome.error
    assert "Connect call failed" in outcome.error or "refused" in outcome.error.lower()
    assert failed == {outcome.error}  # every image not judged says why


def test_only_failures_in_a_row_count() -> None:
    """A host that answers between failures is flaky, not unreachable: its count starts again."""
    import asyncio

    from tests.servers.openai_server import FakeOpenAI
    from viewfinder.errors import RetryableError
    from viewfinder.providers.http import UNREACHABLE_AFTER, HostUnreachable, new_session, send

    port = closed_port()
    url = f"http://127.0.0.1:{port}/v1/chat/completions"

    async def failing(session, times: int) -> list[str]:
        seen = []
        for _ in range(times):
            try:
                await send(session, "POST", url, "judge", json={})
            except RetryableError:
                seen.append("retry")
            except HostUnreachable as exc:
                seen.append(str(exc).split(":")[0] + ":" + str(exc).split(":")[1])
        return seen

    async def attempts() -> list[str]:
        async with new_session(5, 4) as session:
            seen = await failing(session, UNREACHABLE_AFTER - 1)
            with FakeOpenAI(port=port):
                reply = await send(session, "POST", url, "judge", json={}, headers={"Connection": "close"})
                seen.append(f"HTTP {reply.status}")
            return seen + await failing(session, UNREACHABLE_AFTER)

    seen = asyncio.run(attempts())
    assert seen[:UNREACHABLE_AFTER] == ["retry"] * (UNREACHABLE_AFTER - 1) + ["HTTP 401"]
    assert seen[UNREACHABLE_AFTER:] == ["retry"] * (UNREACHABLE_AFTER - 1) + [f"cannot reach 127.0.0.1:{port}"]
