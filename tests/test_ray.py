"""``--executor ray`` on a local Ray (``ray.init(num_cpus=2)``): the pixels analyzer gives the
same measurements as with the local executor, a worker killed mid-run loses no finished
batch (a re-run measures only what is missing), and a diffusers model on Ray actors makes the
same images as in this process."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from viewfinder.analyze.executors import make_executor  # noqa: E402
from viewfinder.analyze.executors.local import LocalExecutor  # noqa: E402
from viewfinder.analyze.executors.ray import RayExecutor  # noqa: E402
from viewfinder.analyze.runner import AnalysisSummary, run_analysis  # noqa: E402
from viewfinder.errors import BadInput  # noqa: E402
from viewfinder.runfolder import open_run  # noqa: E402

PIXELS = {"analyzers": ["pixels"]}
BATCH = 64  # the pixels analyzer's batch size


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def _images(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(count)]


def _analyze(run_dir: Path, executor_for) -> tuple[AnalysisSummary, dict[int, dict]]:
    store, study = open_run(run_dir)
    with store:
        summary = run_analysis(store, study, ["pixels"], judge=None, max_cost=None, executor=executor_for(study))
        return summary, store.measurement_table()


def test_ray_measures_exactly_what_the_local_executor_measures(image_run, local_ray) -> None:
    images = _images(10)
    local_summary, local = _analyze(image_run(images, analysis=PIXELS), lambda study: LocalExecutor())
    ray_summary, remote = _analyze(image_run(images, analysis=PIXELS), lambda study: RayExecutor(study.analysis))
    assert (local_summary.done, ray_summary.done, ray_summary.failed) == (10, 10, 0)
    assert len(remote) == 10 and remote == local  # every value, to the last bit
    assert {"pixels.entropy", "pixels.noise"} <= set(remote[1])


def test_a_killed_worker_loses_no_finished_batch_and_a_rerun_does_only_the_rest(image_run, local_ray, tmp_path) -> None:
    images = _images(4 * BATCH)
    _, expected = _analyze(image_run(images, analysis=PIXELS), lambda study: LocalExecutor())
    run_dir = image_run(images, analysis=PIXELS)
    pids = tmp_path / "pids"
    pids.mkdir()

    def slow_pixels():  # built on each Ray actor (pickled by value)
        from viewfinder.analyze.analyzers.pixels import PixelAnalyzer

        class SlowPixels(PixelAnalyzer):
            def analyze(self, batch, context):
                time.sleep(1.0)
                return super().analyze(batch, context)

        (pids / str(os.getpid())).touch()
        return SlowPixels()

    store, study = open_run(run_dir)
    killed: list[tuple[int, int]] = []  # (worker pid, images stored when it was killed)

    def kill_one_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            stored = len(store.analyzed_image_ids("pixels", "1"))
            workers = sorted(pids.iterdir())
            if stored >= BATCH and workers:
                pid = int(workers[0].name)
                os.kill(pid, signal.SIGKILL)
                killed.append((pid, stored))
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker)
    with store:
        killer.start()
        executor = RayExecutor(study.analysis, factories={"pixels": slow_pixels})
        first = run_analysis(store, study, ["pixels"], judge=None, max_cost=None, executor=executor)
        killer.join()
        after_first = store.analyzed_image_ids("pixels", "1")
    assert killed and BATCH <= killed[0][1] < 4 * BATCH, "the worker was killed mid-run"
    assert len(after_first) >= killed[0][1]  # nothing stored before the kill was lost
    assert first.done == len(after_first)

    again, table = _analyze(run_dir, lambda study: RayExecutor(study.analysis))
    assert again.skipped == len(after_first)
    assert again.done == 4 * BATCH - len(after_first)
    assert table == expected


def test_executor_names_are_checked() -> None:
    from viewfinder.study.schema import Analysis

    with pytest.raises(BadInput, match="use one of local, ray"):
        make_executor("dask", Analysis())
    with pytest.raises(BadInput, match="--ray-address needs --executor ray"):
        make_executor("local", Analysis(), ray_address="ray://head:10001")


def test_the_cli_runs_analysis_on_ray(image_run, local_ray) -> None:
    from typer.testing import CliRunner

    from viewfinder.cli import app

    run_dir = image_run(_images(3), analysis=PIXELS)
    result = CliRunner().invoke(app, ["analyze", str(run_dir), "--executor", "ray", "--analyzers", "pixels"])
    assert result.exit_code == 0, result.output
    assert "pixels 1: 3 measured, 0 already stored, 0 failed" in result.output
    bad = CliRunner().invoke(app, ["analyze", str(run_dir), "--executor", "spark"])
    assert bad.exit_code == 2 and "use one of local, ray" in bad.output


@pytest.mark.slow
def test_a_diffusers_model_on_ray_makes_the_same_images_as_locally(tmp_path, local_ray) -> None:
    import sqlite3

    from PIL import Image
    from typer.testing import CliRunner

    from tests.study_text import one_case_study
    from tests.tiny_models import build_tiny_sd_pipeline
    from viewfinder.cli import app

    pipeline = build_tiny_sd_pipeline(tmp_path / "tiny-sd")
    study = tmp_path / "local.toml"
    generation = '[generation]\nwidth = 64\nheight = 64\nnum_inference_steps = 1\noutput_format = "png"\n'
    study.write_text(one_case_study("local", [f"diffusers:{pipeline}"], [1, 2, 3], generation))
    made = {}
    for executor in ("local", "ray"):
        run_dir = tmp_path / executor
        result = CliRunner().invoke(
            app, ["run", str(study), "--workdir", str(run_dir), "--until", "generate", "--executor", executor]
        )
        assert result.exit_code == 0, result.output
        with sqlite3.connect(run_dir / "viewfinder.sqlite") as conn:
            rows = conn.execute("SELECT seed, path FROM images ORDER BY seed").fetchall()
            devices = {row[0] for row in conn.execute("SELECT json_extract(response, '$.result.device') FROM jobs")}
        assert devices == {"cpu"} and [seed for seed, _ in rows] == [1, 2, 3]
        made[executor] = [np.asarray(Image.open(run_dir / path), dtype=np.int16) for _, path in rows]
    # Same seeds, same pictures: equal up to float rounding (a Ray actor runs torch on one thread).
    for local, remote in zip(made["local"], made["ray"], strict=True):
        assert local.shape == remote.shape == (64, 64, 3)
        assert np.abs(local - remote).max() <= 2
    assert np.abs(made["ray"][0] - made["ray"][1]).max() > 20  # different seeds, different pictures


def test_an_analyzer_that_cannot_start_on_the_workers_stops_with_its_message(image_run, local_ray) -> None:
    def no_weights():
        from viewfinder.errors import FatalRunError

        raise FatalRunError("the CLIP weights are not in this node's cache; run 'viewfinder models fetch'")

    store, study = open_run(image_run(_images(3), analysis=PIXELS))
    with store:
        executor = RayExecutor(study.analysis, factories={"pixels": no_weights})
        summary = run_analysis(store, study, ["pixels"], judge=None, max_cost=None, executor=executor)
        stored = store.analyzed_image_ids("pixels", "1")
    (outcome,) = summary.analyzers
    assert (outcome.done, outcome.failed, stored) == (0, 3, set())
    assert outcome.error is not None and "viewfinder models fetch" in outcome.error
