"""Benchmark: build the report of a 10,000-image run and open its page in Chromium.

    .venv/bin/python bench/report.py [--images 10000] [--keep DIR]

Synthesises a run folder (distinct small JPEGs, every analyzer's measurements, scored by
the scoring stage), then times ``build_report`` from a cold report folder (thumbnails,
plots, Markdown, HTML) and a rebuild, and the page in headless Chromium: navigation to
first cards on screen, and a filter change. Targets: build < 30 s, page < 2 s.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console

from viewfinder.report import build_report
from viewfinder.report.thumbs import image_budget, make_thumbs
from viewfinder.score import run_scoring
from viewfinder.store import Measurement, NewImage, RunStore, write_image
from viewfinder.study import expand_jobs, parse_study

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from report_fixture import SPECS  # noqa: E402  (the contract's measurement specs)

CAMERAS = ["eye-level", "low-angle", "high-angle close-up", "bird's-eye wide"]
STYLES = ["cinematic", "photojournalism", "oil painting", "anime", "film noir"]
EMOTIONS = [
    ("Jealousy", ["contempt", "anger", "sadness"]),
    ("Joy", ["happiness"]),
    ("Fear", ["fear", "surprise"]),
    ("Grief", ["sadness"]),
    ("Anger", ["anger", "disgust"]),
]
MODELS = ["fal:fal-ai/flux/schnell", "fal:fal-ai/flux/dev"]
ANGLES = ["eye-level", "low-angle", "high-angle", "bird's-eye", "unclear"]
EXPRESSIONS = ["neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt", "no face"]


def study_toml(n_images: int) -> str:
    per_prompt = len(MODELS)
    cells = len(CAMERAS) * len(STYLES) * len(EMOTIONS)
    cases = max(1, n_images // (per_prompt * cells * 5))
    lines = [
        'name = "bench-report"',
        'topic = "facial-expressions"',
        f"cameras = {json.dumps(CAMERAS)}",
        f"styles = {json.dumps(STYLES)}",
        f"models = {json.dumps(MODELS)}",
        "seeds = [0, 1, 2, 3, 4]",
        'sources = ["https://dramaresource.com/storytelling/"]',
    ]
    for name, expressions in EMOTIONS:
        lines += ["[[emotions]]", f'name = "{name}"', f"expressions = {json.dumps(expressions)}"]
        for c in range(cases):
            lines += [
                "[[emotions.cases]]",
                f'variant = "{name} case {c}"',
                f'subject = "A person {c}"',
                f'category = "Group {c % 4}"',
                f'scene = "A place number {c}"',
            ]
    return "\n".join(lines) + "\n"


def synthesise(run_dir: Path, n_images: int, size: tuple[int, int] = (512, 384)) -> tuple[RunStore, object]:
    text = study_toml(n_images)
    study = parse_study(text)
    store = RunStore(run_dir)
    store.set_meta("study_name", study.name)
    store.set_meta("study_toml", text)
    jobs = list(expand_jobs(study))[:n_images]
    store.add_jobs(jobs)
    for analyzer, specs in SPECS.items():
        store.register_specs(analyzer, "1.0", specs)
    rng = np.random.default_rng(0)
    # every image is embedded in index.html down-scaled within the page budget (report.thumbs);
    # 512 x 384 is the default, --image-size 1024x768 is FLUX's landscape_4_3
    base = np.asarray(Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).resize(size))
    measurements: dict[str, list[Measurement]] = {name: [] for name in SPECS}
    ids = []
    with store.transaction():
        for i, job in enumerate(jobs):
            pixels = base.copy()
            pixels[i % size[1], :, :] = i % 251  # distinct content, so distinct files and thumbnails
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, "JPEG", quality=75)
            digest, rel = write_image(run_dir, buffer.getvalue(), "jpg")
            image = NewImage(
                sha256=digest,
                path=rel,
                size=len(buffer.getvalue()),
                fmt="jpeg",
                width=size[0],
                height=size[1],
                cost_usd=0.003,
            )
            image_id = store.add_image(job.id, image, model=job.model, seed=job.seed)
            store.complete_job(job.id)
            store.add_cost("generation", job.model, 0.003, job_id=job.id, image_id=image_id)
            ids.append(image_id)
            m = measurements
            m["pixels"] += [
                Measurement(image_id, "entropy", float(rng.uniform(5, 7.5))),
                Measurement(image_id, "noise", float(rng.uniform(40, 90))),
                Measurement(image_id, "sharpness", float(rng.uniform(50, 900))),
            ]
            m["clip"] += [
                Measurement(image_id, "clip_score", float(rng.uniform(0.18, 0.32))),
                Measurement(image_id, "aesthetic", float(rng.uniform(4, 7))),
            ]
            m["judge"] += [
                Measurement(image_id, "title", text=f"A look that speaks volumes {i}"),
                Measurement(image_id, "description", text="A person in a crowded scene, looking away. " * 3),
                Measurement(image_id, "shot", text="A woman with long hair looks at the camera."),
                Measurement(image_id, "moods", text="mysterious, alluring, intimate"),
                Measurement(image_id, "image_errors", text="Some noise in the shadows."),
                Measurement(image_id, "aesthetic", float(rng.uniform(0.4, 0.9))),
                Measurement(image_id, "ai_likelihood", float(rng.uniform(0.1, 0.5))),
                Measurement(image_id, "camera_angle", text=ANGLES[rng.integers(len(ANGLES))]),
                Measurement(image_id, "expression", text=EXPRESSIONS[rng.integers(len(EXPRESSIONS))]),
                Measurement(image_id, "scene_match", float(rng.random() < 0.7)),
                Measurement(image_id, "style_match", float(rng.random() < 0.8)),
                Measurement(image_id, "judge_model", text="openai:gpt-4o-mini"),
            ]
            m["faces"] += [
                Measurement(image_id, "face_count", float(rng.integers(0, 3))),
                Measurement(image_id, "expression", text=EXPRESSIONS[rng.integers(len(EXPRESSIONS))]),
                Measurement(image_id, "camera_angle", text=ANGLES[rng.integers(len(ANGLES))]),
            ]
    for analyzer, rows in measurements.items():
        store.write_analysis(analyzer, "1.0", rows, ids)
    return store, study


def thumb_rate(work: Path, n_images: int, count: int = 200) -> float:
    """Milliseconds per embedded image of a 1024 x 768 JPEG (FLUX's landscape_4_3) at the budget of
    an ``n_images`` run, all cores."""
    rng = np.random.default_rng(1)
    base = np.asarray(Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).resize((1024, 768)))
    items = []
    for i in range(count):
        pixels = base.copy()
        pixels[i % 768, :, :] = i % 251
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
        digest, rel = write_image(work, buffer.getvalue(), "jpg")
        items.append((digest, work / rel))
    started = time.perf_counter()
    made = make_thumbs(items, work / "report", image_budget(n_images))
    assert len(made) == count
    return (time.perf_counter() - started) / count * 1000


def page_timings(index: Path) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        started = time.perf_counter()
        page.goto(index.as_uri())
        page.wait_for_selector("html[data-ready='1']")
        page.wait_for_selector("#gallery .card")
        opened = time.perf_counter() - started
        cards = page.evaluate("document.getElementById('gallery').dataset.total")
        started = time.perf_counter()
        page.select_option("#filter-verdict", "Camera angle (judge): misses")
        filtered = time.perf_counter() - started
        browser.close()
    return {"open_s": opened, "filter_s": filtered, "cards": float(cards)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--image-size", default="512x384", help="WxH of the synthesised images")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    args = parser.parse_args()
    run_dir = args.keep or Path(tempfile.mkdtemp(prefix="vf-bench-report-"))
    quiet = Console(quiet=True)
    try:
        started = time.perf_counter()
        width, height = (int(v) for v in args.image_size.lower().split("x"))
        store, study = synthesise(run_dir, args.images, (width, height))
        n = len(store.images())
        print(f"synthesised {n} images of {width}x{height} in {time.perf_counter() - started:.1f} s ({run_dir})")
        started = time.perf_counter()
        run_scoring(store, study, quiet)
        print(f"scoring (viewfinder score): {time.perf_counter() - started:.1f} s")
        shutil.rmtree(run_dir / "report", ignore_errors=True)
        started = time.perf_counter()
        build_report(store, study, quiet)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        report_dir = build_report(store, study, quiet)
        warm = time.perf_counter() - started
        html = (report_dir / "index.html").stat().st_size / 1e6
        md = (report_dir / "post.md").stat().st_size / 1e6
        verdict = "PASS" if cold < 30 else "FAIL"
        print(f"report build, cold (embedded images included): {cold:.1f} s  [target < 30 s] {verdict}")
        print(f"report rebuild (thumbnails kept): {warm:.1f} s")
        print(f"index.html {html:.1f} MB (images and plots inside), post.md {md:.1f} MB")
        store.close()
        timing = page_timings(report_dir / "index.html")
        print(
            f"page open to first cards in Chromium: {timing['open_s']:.2f} s  [target < 2 s] "
            f"{'PASS' if timing['open_s'] < 2 else 'FAIL'} ({int(timing['cards'])} cards in the data)"
        )
        print(f"verdict filter over all cards: {timing['filter_s'] * 1000:.0f} ms")
        per_thumb = thumb_rate(run_dir / "thumb-bench", n)
        print(
            f"embedded images of 200 1024x768 JPEGs at this run's budget ({image_budget(n) // 1000} kB): "
            f"{per_thumb:.1f} ms of wall time each, all cores, worker start included (rebuilds reuse them)"
        )
    finally:
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
