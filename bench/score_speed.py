"""Time `viewfinder score` and `viewfinder export` on a synthetic run of a few thousand images.

    .venv/bin/python bench/score_speed.py [--seeds 25]

The run (2 models, 3 emotion cases, 4 cameras, 5 styles, N seeds: 120 x N images) carries
judge, faces, CLIP and pixel measurements written straight into the run store.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from rich.console import Console  # noqa: E402
from test_score_support import STUDY_TOML, build_run, study  # noqa: E402

from viewfinder.export import export_run  # noqa: E402
from viewfinder.score import run_scoring  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=25, help="seeds per prompt and model (120 images each)")
    args = parser.parse_args()
    toml = (
        STUDY_TOML.replace(
            'cameras = ["eye-level", "low-angle close-up"]',
            'cameras = ["eye-level", "low-angle close-up", "high-angle", "bird\'s-eye wide"]',
        )
        .replace(
            'styles = ["cinematic", "watercolor"]',
            'styles = ["cinematic", "watercolor", "anime", "oil painting", "photo"]',
        )
        .replace("seeds = [0, 1, 2]", f"seeds = {list(range(args.seeds))}")
    )
    console = Console(soft_wrap=True)
    with tempfile.TemporaryDirectory() as folder, build_run(Path(folder), toml=toml) as store:
        images = len(store.images())
        start, cpu = time.perf_counter(), time.process_time()
        report = run_scoring(store, study(toml), Console(quiet=True))
        scoring, scoring_cpu = time.perf_counter() - start, time.process_time() - cpu
        console.print(
            f"score: {images} images, {len(report.dimensions)} dimensions, {len(report.scores)} scores, "
            f"{len(report.comparisons)} comparisons in {scoring:.2f} s ({scoring_cpu:.2f} s CPU)"
        )
        for fmt in ("parquet", "csv", "jsonl"):
            start = time.perf_counter()
            path, rows = export_run(store, study(toml), fmt)
            console.print(
                f"export {fmt}: {rows} rows, {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - start:.2f} s"
            )


if __name__ == "__main__":
    main()
