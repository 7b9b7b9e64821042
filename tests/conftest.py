"""Shared pytest fixtures (each engineer adds small, separate fixtures here)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest


# -- analysis: a run folder holding given images ---------------------------------------------
def write_image_run(
    run_dir: Path,
    images: list[np.ndarray],
    *,
    analysis: dict[str, Any] | None = None,
    fmt: str = "png",
    emotion: str = "Jealousy",
    expressions: tuple[str, ...] = ("contempt", "anger", "sadness"),
) -> Path:
    """Make a run folder whose jobs are completed with ``images`` (RGB uint8 arrays).

    One study case per image; ``analysis`` becomes the study's ``[analysis]`` table.
    """
    import io

    from PIL import Image

    from viewfinder.runfolder import init_run
    from viewfinder.store import NewImage, write_image

    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        'name = "analysis-test"',
        'topic = "facial-expressions"',
        'cameras = ["low-angle close-up"]',
        'styles = ["cinematic"]',
        'models = ["fal:test/model"]',
        "seeds = [0]",
        "[analysis]",
        *(f"{key} = {json.dumps(value)}" for key, value in (analysis or {}).items()),
        "[[emotions]]",
        f"name = {json.dumps(emotion)}",
        f"expressions = {json.dumps(list(expressions))}",
    ]
    for index in range(len(images)):
        lines += [
            "[[emotions.cases]]",
            f'variant = "Variant {index}"',
            f'subject = "A person number {index}"',
            'category = "Single Persons"',
            f'scene = "A crowded party, table {index}"',
        ]
    study_path = run_dir.parent / f"{run_dir.name}.toml"
    study_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store, _ = init_run(study_path, run_dir)
    with store:
        for job, pixels in zip(store.jobs(), images, strict=False):
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="PNG" if fmt == "png" else "JPEG", quality=95)
            digest, rel = write_image(run_dir, buffer.getvalue(), fmt)
            image = NewImage(
                sha256=digest,
                path=rel,
                size=len(buffer.getvalue()),
                fmt=fmt,
                width=pixels.shape[1],
                height=pixels.shape[0],
                cost_usd=0.0,
            )
            store.add_image(job.id, image, model=job.model, seed=job.seed)
            store.complete_job(job.id)
    return run_dir


@pytest.fixture()
def image_run(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``image_run(images, analysis={...})`` -> a run folder holding those images."""
    counter = iter(range(1000))
    return lambda images, **kw: write_image_run(tmp_path / f"run{next(counter)}", images, **kw)


# -- generation: the fake fal queue server ---------------------------------------------------
from tests.servers.fal_server import FAL_TEST_KEY  # noqa: E402


def _serve(monkeypatch: pytest.MonkeyPatch, server: Any, **env: str) -> Iterator[Any]:
    """Run a fake provider for one test with its key and base URL variables set."""
    with server:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield server


@pytest.fixture()
def fal_server(monkeypatch: pytest.MonkeyPatch):
    """A fake fal queue on 127.0.0.1 (tests.servers.fal_server), with FAL_KEY and
    VIEWFINDER_FAL_URL pointing at it; script faults with ``fal_server.add_fault(...)``."""
    from tests.servers.fal_server import FalFakeServer

    server = FalFakeServer(latency_s=0.05, key=FAL_TEST_KEY)
    yield from _serve(monkeypatch, server, FAL_KEY=FAL_TEST_KEY, VIEWFINDER_FAL_URL=server.url)


# -- generation: fake OpenAI Images, Replicate and BFL servers (backends engineer) ------------
@pytest.fixture()
def openai_images_server(monkeypatch: pytest.MonkeyPatch):
    """A fake OpenAI Images API with OPENAI_API_KEY and OPENAI_BASE_URL pointing at it."""
    from tests.servers.openai_images_server import OPENAI_TEST_KEY, OpenAIImagesFakeServer

    server = OpenAIImagesFakeServer(latency_s=0.02, key=OPENAI_TEST_KEY)
    yield from _serve(monkeypatch, server, OPENAI_API_KEY=OPENAI_TEST_KEY, OPENAI_BASE_URL=server.url + "/v1")


@pytest.fixture()
def replicate_server(monkeypatch: pytest.MonkeyPatch):
    """A fake Replicate predictions API with REPLICATE_API_TOKEN and REPLICATE_BASE_URL set."""
    from tests.servers.replicate_server import REPLICATE_TEST_TOKEN, ReplicateFakeServer

    server = ReplicateFakeServer(latency_s=0.06, key=REPLICATE_TEST_TOKEN)
    yield from _serve(monkeypatch, server, REPLICATE_API_TOKEN=REPLICATE_TEST_TOKEN, REPLICATE_BASE_URL=server.url)


@pytest.fixture()
def bfl_server(monkeypatch: pytest.MonkeyPatch):
    """A fake BFL API with BFL_API_KEY and BFL_BASE_URL pointing at it."""
    from tests.servers.bfl_server import BFL_TEST_KEY, BflFakeServer

    server = BflFakeServer(latency_s=0.06, key=BFL_TEST_KEY)
    yield from _serve(monkeypatch, server, BFL_API_KEY=BFL_TEST_KEY, BFL_BASE_URL=server.url)
