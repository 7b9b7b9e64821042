"""VLM judge throughput against the fake OpenAI chat completions server: images/s versus C/L.

Each judge call takes L seconds on the server, so with C calls in flight no client can judge
more than C/L images per second. The fake server runs in its own process (its CPU is not
counted). The real analysis runner judges N distinct 1024x768 JPEGs (file read, base64 data
URL, strict-schema request, JSON validation, P(yes) from logprobs, ledger and measurements in
SQLite); this prints images/s, the ratio to C/L and the client's CPU milliseconds per image.

    .venv/bin/python bench/judge.py --concurrency 16 --latency 0.5 --images 320
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from rich.console import Console  # noqa: E402

from tests.study_text import one_case_study  # noqa: E402
from viewfinder.analyze.runner import run_analysis  # noqa: E402
from viewfinder.runfolder import init_run, open_run  # noqa: E402
from viewfinder.store import NewImage, write_image  # noqa: E402

KEY = "sk-bench-judge"


def make_run(folder: Path, images: int, batch_size: int) -> Path:
    """A run folder with ``images`` completed jobs, each a distinct 1024x768 JPEG."""
    study = folder / "bench.toml"
    analysis = f"[analysis]\nbatch_size = {batch_size}\n"
    study.write_text(
        one_case_study(
            "judge-bench",
            ["fal:fal-ai/flux/schnell"],
            list(range(images)),
            analysis,
            expressions=("contempt", "anger"),
            scene="A crowded party with couples dancing",
        )
    )
    run_dir = folder / "run"
    store, _ = init_run(study, run_dir)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:768, 0:1024]
    smooth = np.stack([x * 255 // 1023, y * 255 // 767, (x + y) * 255 // 1790], axis=-1)
    base = np.clip(smooth + rng.normal(0, 6, size=smooth.shape), 0, 255).astype(np.uint8)  # ~flux-sized JPEGs
    with store:
        for index, job in enumerate(store.jobs()):
            pixels = base.copy()
            for bit in range(16):  # the index as black/white 16x16 squares: distinct files
                pixels[:16, bit * 16 : (bit + 1) * 16] = 255 * ((index >> bit) & 1)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
            data = buffer.getvalue()
            digest, rel = write_image(run_dir, data, "jpg")
            image = NewImage(sha256=digest, path=rel, size=len(data), fmt="jpeg", width=1024, height=768, cost_usd=0.0)
            store.add_image(job.id, image, model=job.model, seed=job.seed)
            store.complete_job(job.id)
    return run_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", "-c", type=int, default=16)
    parser.add_argument("--latency", "-l", type=float, default=0.5, help="server seconds per call")
    parser.add_argument("--images", "-n", type=int, default=320)
    parser.add_argument("--batch-size", "-b", type=int, default=16, help="the study's [analysis] batch_size")
    args = parser.parse_args()

    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "servers" / "openai_server.py"),
            "--latency",
            str(args.latency),
            "--key",
            KEY,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        os.environ.update(
            {"OPENAI_BASE_URL": url, "OPENAI_API_KEY": KEY, "VIEWFINDER_JUDGE_CONCURRENCY": str(args.concurrency)}
        )
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = make_run(Path(tmp), args.images, args.batch_size)
            store, study = open_run(run_dir)
            with store:
                cpu, wall = time.process_time(), time.perf_counter()
                summary = run_analysis(
                    store, study, ["judge"], judge="openai:gpt-4o-mini", max_cost=None, console=Console(stderr=True)
                )
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                mb = sum(store.image_path(row).stat().st_size for row in store.images()) / 1e6
    finally:
        server.terminate()
        server.wait()
    bound = args.concurrency / args.latency
    rate = summary.done / wall
    print(f"judged {summary.done} images ({mb:.1f} MB of JPEG), {summary.failed} failed, in {wall:.2f} s")
    print(f"throughput {rate:.1f} images/s; bound C/L = {bound:.1f}/s; ratio {rate / bound:.2f}")
    print(f"client CPU {1000 * cpu / max(summary.done, 1):.1f} ms per image; cost ${summary.cost_usd:.4f}")


if __name__ == "__main__":
    main()
