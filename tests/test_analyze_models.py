"""Hub loading end to end: `viewfinder models fetch` from a fake Hub, then an offline analysis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from skimage import data
from tiny_models import build_tiny_aesthetic, build_tiny_clip
from typer.testing import CliRunner

from tests.servers.fake_hub import FakeHub
from viewfinder.analyze.analyzers.clip import ClipAnalyzer
from viewfinder.analyze.runner import image_items
from viewfinder.cli import app
from viewfinder.runfolder import open_run


@pytest.fixture()
def hub(tmp_path: Path):
    clip = build_tiny_clip(tmp_path / "repos" / "clip")
    aesthetic = tmp_path / "repos" / "aesthetic"
    build_tiny_aesthetic(aesthetic / "sac+logos+ava1-l14-linearMSE.pth", 16)
    with FakeHub({"test/tiny-clip": clip, "camenduru/improved-aesthetic-predictor": aesthetic}) as server:
        yield server


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    return {**env, "HF_HUB_CACHE": str(cache), "HF_HUB_DISABLE_PROGRESS_BARS": "1", **extra}


def _viewfinder(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "viewfinder", *args], capture_output=True, text=True, env=env, timeout=240
    )


def test_fetch_from_the_hub_then_analyze_offline(hub: FakeHub, image_run, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    run_dir = image_run([data.astronaut(), data.coffee()], analysis={"clip_model": "test/tiny-clip"})
    study = run_dir.parent / f"{run_dir.name}.toml"

    fetched = _viewfinder("models", "fetch", str(study), env=_env(cache, HF_ENDPOINT=hub.url))
    assert fetched.returncode == 0, fetched.stderr
    lines = dict(line.split("\t") for line in fetched.stdout.strip().splitlines())
    assert set(lines) == {"test/tiny-clip", "laion/sac+logos+ava1-l14-linearMSE"}
    assert all(Path(path).is_relative_to(cache) and Path(path).exists() for path in lines.values())
    assert (
        "GET",
        "/camenduru/improved-aesthetic-predictor/resolve/main/sac+logos+ava1-l14-linearMSE.pth",
    ) in hub.requests
    assert not any(path.endswith(".bin") for _, path in hub.requests)  # safetensors only

    asked = len(hub.requests)  # cached models load without asking the Hub anything
    analyzed = _viewfinder("analyze", str(run_dir), "--analyzers", "clip", env=_env(cache, HF_ENDPOINT=hub.url))
    assert analyzed.returncode == 0, analyzed.stderr
    assert [p for _, p in hub.requests[asked:] if "/resolve/" in p or p.startswith("/api/models/")] == []
    hub.__exit__()
    offline = _viewfinder("analyze", str(run_dir), "--analyzers", "clip", env=_env(cache, HF_HUB_OFFLINE="1"))
    assert offline.returncode == 0 and "0 measured, 2 already stored" in offline.stderr
    store, study = open_run(run_dir)
    with store:
        items = image_items(store, study)
        table = store.measurement_table()
    local = ClipAnalyzer(
        str(hub.repos["test/tiny-clip"]),
        str(hub.repos["camenduru/improved-aesthetic-predictor"] / "sac+logos+ava1-l14-linearMSE.pth"),
        device="cpu",
    )
    expected = {m.image_id: m.value for m in local.analyze(items, None).measurements if m.name == "aesthetic"}  # type: ignore[arg-type]
    local.close()
    assert {i: table[i]["clip.aesthetic"] for i in expected} == pytest.approx(expected, abs=1e-6)


def test_fetch_of_a_missing_repository_names_it_and_the_cache(hub: FakeHub, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    result = _viewfinder("models", "fetch", "--model", "test/no-such-model", env=_env(cache, HF_ENDPOINT=hub.url))
    assert result.returncode == 1
    assert "test/no-such-model" in result.stderr and str(cache) in result.stderr
    assert "[analysis] clip_model" in result.stderr and "Traceback" not in result.stderr


def test_models_fetch_defaults_list_the_real_models(monkeypatch) -> None:
    fetched: list[list[str]] = []

    def fake_fetch(refs, console=None):
        fetched.append(list(refs))
        return iter(())

    monkeypatch.setattr("viewfinder.analyze.models.fetch_models", fake_fetch)
    result = CliRunner().invoke(app, ["models", "fetch"])
    assert result.exit_code == 0, result.output
    assert fetched == [["openai/clip-vit-large-patch14", "laion/sac+logos+ava1-l14-linearMSE"]]


def test_an_unreachable_hub_is_asked_once_not_retried(image_run, tmp_path: Path) -> None:
    """A hub endpoint that drops every connection (as a dead proxy does): one probe, then the
    analyzer reports it, instead of the hub client's retries per file."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    connections = []

    def drop_each() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            connections.append(conn.recv(300))
            conn.close()

    threading.Thread(target=drop_each, daemon=True).start()
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
    run_dir = image_run([data.astronaut()], analysis={"clip_model": "test/tiny-clip"})
    try:
        result = _viewfinder(
            "analyze", str(run_dir), "--analyzers", "clip", env=_env(tmp_path / "empty-cache", HF_ENDPOINT=endpoint)
        )
    finally:
        listener.close()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"the Hugging Face hub ({endpoint}) cannot be reached" in result.stderr
    assert result.stderr.count("cannot be reached") == 1
    asked = [request.split(b" HTTP")[0] for request in connections if b"/api/agent-harnesses" not in request]
    assert asked == [b"HEAD /"]  # asked once, no model file retried (huggingface_hub's own startup call aside)
