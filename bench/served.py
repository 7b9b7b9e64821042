"""A fake provider from ``tests/servers`` in its own process, so its CPU is not the client's."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from viewfinder.runfolder import init_run
from viewfinder.store import RunStore
from viewfinder.study import Study

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def fake_server(module: str, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``python -m module --port 0 *args``; yields the process and the URL it prints first."""
    server = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        yield server, server.stdout.readline().strip()
    finally:
        server.kill()
        server.wait()


@contextmanager
def bench_run(study_text: str) -> Iterator[tuple[RunStore, Study, Console]]:
    """A throwaway run folder for ``study_text``, its open store, and a console that prints nowhere."""
    with tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as sink:
        study = Path(tmp) / "bench.toml"
        study.write_text(study_text)
        store, loaded = init_run(study, Path(tmp) / "run")
        with store:
            yield store, loaded, Console(file=sink, force_terminal=True, width=120)


def load_parser(doc: str, *, latency_help: str, jobs: int) -> argparse.ArgumentParser:
    """The options every load benchmark takes: requests in flight, server latency, images."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--concurrency", "-c", type=int, default=64)
    parser.add_argument("--latency", "-l", type=float, default=0.5, help=latency_help)
    parser.add_argument("--jobs", "-n", type=int, default=jobs)
    return parser
