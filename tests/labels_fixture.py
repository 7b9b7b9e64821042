"""A run imported from generated test images: models, cameras and emotions vary per image."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from viewfinder.cli import app

PROMPT = "facial-expressions {emotion}: Overjoyed ; A person number {i}; {camera}; Elderly; A kitchen; cinematic"
CAMERAS = ("eye-level", "low-angle")
EMOTIONS = ("Happiness", "Fear")


def make_import_run(root: Path, count: int) -> Path:
    """``count`` imported images: model alpha for the first half, beta for the rest; camera and
    emotion alternate. Returns the run folder."""
    images = root / "made"
    images.mkdir(parents=True)
    rows = []
    for i in range(count):
        pixels = np.random.default_rng(i).integers(0, 255, (32, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / f"{i}.png")
        prompt = PROMPT.format(i=i, camera=CAMERAS[i % 2], emotion=EMOTIONS[(i // 2) % 2])
        rows.append(
            {
                "image": f"{i}.png",
                "prompt": prompt,
                "model": ("alpha", "beta")[2 * i // count],
                "seed": str(i),
            }
        )
    prompts = root / "prompts.csv"
    with open(prompts, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "prompt", "model", "seed"])
        writer.writeheader()
        writer.writerows(rows)
    run_dir = root / "run"
    result = CliRunner().invoke(app, ["import", str(images), "--prompts", str(prompts), "--workdir", str(run_dir)])
    assert result.exit_code == 0, result.output
    return run_dir
