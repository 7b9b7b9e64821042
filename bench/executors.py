"""Analysis images/s on one run folder: the local executor against Ray (``--executor ray``).

Makes one run of N JPEGs (photographs plus noise, 512x512 by default), copies it so each
executor starts from nothing stored, and times ``run_analysis`` with one analyzer (pixels
by default) on each: the whole call, so Ray's actor start-up and the driver's store writes
count. Ray's own start (``ray.init``) is timed apart. ``--ray-address`` joins a cluster
(the run folder must then be on a file system every node sees at the same path).

    .venv/bin/python bench/executors.py --images 2000 --ray-cpus 2
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from viewfinder.analyze.executors.local import LocalExecutor  # noqa: E402
from viewfinder.analyze.runner import run_analysis  # noqa: E402
from viewfinder.runfolder import init_run, open_run  # noqa: E402
from viewfinder.store import NewImage, write_image  # noqa: E402


def make_run(run_dir: Path, count: int, size: int) -> Path:
    """A run folder whose ``count`` jobs are completed with distinct JPEGs."""
    from skimage import data

    run_dir.parent.mkdir(parents=True, exist_ok=True)
    study = run_dir.parent / "bench.toml"
    study.write_text(
        "\n".join(
            [
                'name = "executors"',
                'topic = "facial-expressions"',
                'cameras = ["eye-level"]',
                'styles = ["cinematic"]',
                'models = ["fal:test/model"]',
                f"seeds = {list(range(count))}",
                "[[emotions]]",
                'name = "Jealousy"',
                "[[emotions.cases]]",
                'variant = "Lonely"',
                'subject = "A woman"',
                'category = "Single Persons"',
                'scene = "A crowded party"',
                "",
            ]
        )
    )
    bases = [
        np.asarray(Image.fromarray(getattr(data, name)()).convert("RGB").resize((size, size)))
        for name in ("astronaut", "coffee", "chelsea", "rocket")
    ]
    store, _ = init_run(study, run_dir)
    with store:
        for index, job in enumerate(store.jobs()):
            rng = np.random.default_rng(index)
            pixels = np.clip(bases[index % 4].astype(np.int16) + rng.normal(0, 4, (size, size, 1)), 0, 255)
            buffer = io.BytesIO()
            Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="JPEG", quality=90)
            digest, rel = write_image(run_dir, buffer.getvalue(), "jpeg")
            image = NewImage(
                sha256=digest, path=rel, size=len(buffer.getvalue()), fmt="jpeg", width=size, height=size, cost_usd=0.0
            )
            store.add_image(job.id, image, model=job.model, seed=job.seed)
            store.complete_job(job.id)
    return run_dir


def timed_analysis(run_dir: Path, analyzer: str, executor_for) -> tuple[int, float]:
    store, study = open_run(run_dir)
    quiet = Console(file=io.StringIO())
    with store:
        start = time.perf_counter()
        summary = run_analysis(
            store, study, [analyzer], judge=None, max_cost=None, console=quiet, executor=executor_for(study)
        )
        return summary.done, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=512, help="image side in pixels")
    parser.add_argument("--analyzer", default="pixels")
    parser.add_argument("--ray-cpus", type=int, default=None, help="CPUs of the local Ray (default: all)")
    parser.add_argument("--ray-address", default=None, help="join this Ray cluster instead")
    args = parser.parse_args()

    import ray

    from viewfinder.analyze.executors.ray import RayExecutor

    with tempfile.TemporaryDirectory() as tmp:
        base = make_run(Path(tmp) / "local" / "run", args.images, args.size)
        ray_dir = Path(tmp) / "ray" / "run"
        shutil.copytree(base.parent, ray_dir.parent)
        done, local_s = timed_analysis(base, args.analyzer, lambda study: LocalExecutor())
        print(f"local: {done} images in {local_s:.2f} s = {done / local_s:.1f} images/s")
        start = time.perf_counter()
        ray.init(
            address=args.ray_address,
            num_cpus=None if args.ray_address else args.ray_cpus,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
        init_s = time.perf_counter() - start
        cpus = ray.cluster_resources().get("CPU", 0)
        done, ray_s = timed_analysis(ray_dir, args.analyzer, lambda study: RayExecutor(study.analysis))
        print(
            f"ray ({cpus:g} CPUs, ray.init {init_s:.1f} s apart): {done} images in {ray_s:.2f} s = "
            f"{done / ray_s:.1f} images/s"
        )
        ray.shutdown()


if __name__ == "__main__":
    main()
