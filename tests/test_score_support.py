"""Builds run folders with realistic stored measurements for the scoring and export tests.

Measurements are drawn from known true rates with a fixed seed, so tests can check that the
scores recover them. Not a test module itself (it holds no tests).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from tests.study_text import emotion_toml
from viewfinder.store import Measurement, MeasurementSpec, NewImage, RunStore, write_image
from viewfinder.study import Study, expand_jobs, parse_study

STUDY_TOML = (
    """
name = "scoring-test"
topic = "facial-expressions"
cameras = ["eye-level", "low-angle close-up"]
styles = ["cinematic", "watercolor"]
models = ["fal:model-a", "fal:model-b"]
seeds = [0, 1, 2]
"""
    + emotion_toml(
        "Jealousy",
        ["contempt", "anger", "sadness"],
        ("Lonely and envious", "A single woman", "Single Persons", "A crowded party"),
        ("Bitter and isolated", "A superhero alone on a rooftop", "Heroes", "A city skyline at night"),
    )
    + emotion_toml("Joy", ["happiness"], ("Delighted", "A child with a kite", "Children", "A windy beach"))
)


@dataclass
class TrueRates:
    """The probabilities the synthetic answers are drawn from, per model."""

    emotion: dict[str, float] = field(default_factory=lambda: {"fal:model-a": 0.8, "fal:model-b": 0.3})
    scene: dict[str, float] = field(default_factory=lambda: {"fal:model-a": 0.9, "fal:model-b": 0.5})
    no_face: float = 0.15  # share of images where no face is found (faces) / the judge says "no face"
    low_angle_emotion: float | None = None  # when set, the emotion rate of low-angle prompts (all models)
    clip_shift: dict[str, float] = field(default_factory=lambda: {"fal:model-a": 0.03, "fal:model-b": 0.0})


def study(toml: str = STUDY_TOML) -> Study:
    return parse_study(toml, "scoring-test.toml")


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def build_run(
    run_dir: Path,
    rates: TrueRates | None = None,
    *,
    seed: int = 7,
    judge_secret: str = "",
    toml: str = STUDY_TOML,
) -> RunStore:
    """A run folder with images of every job and judge, faces, clip and pixels measurements."""
    rates = rates or TrueRates()
    loaded = study(toml)
    store = RunStore(run_dir)
    store.set_meta("study_name", loaded.name)
    store.set_meta("study_toml", toml)
    store.set_meta("study_path", "scoring-test.toml")
    jobs = list(expand_jobs(loaded))
    store.add_jobs(jobs)
    rng = np.random.default_rng(seed)
    judge, faces, clip, pixels = [], [], [], []
    for number, job in enumerate(jobs):
        data = _png(number)
        digest, rel = write_image(store.run_dir, data, "png")
        image = NewImage(sha256=digest, path=rel, size=len(data), fmt="png", width=8, height=8, cost_usd=0.003)
        image_id = store.add_image(job.id, image, model=job.model, seed=job.seed)
        store.complete_job(job.id)
        expressions = loaded.emotion(job.prompt.emotion).expressions
        emotion_rate = rates.emotion[job.model]
        if rates.low_angle_emotion is not None and "low-angle" in job.prompt.camera:
            emotion_rate = rates.low_angle_emotion
        follows = rng.random() < emotion_rate
        wrong = [e for e in ("neutral", "happiness", "surprise", "fear") if e not in expressions]
        label = rng.choice(expressions) if follows else rng.choice(wrong)
        judge_label = "no face" if rng.random() < rates.no_face else label
        faces_label = "no face" if rng.random() < rates.no_face else (label if rng.random() < 0.85 else "neutral")
        angle = "low-angle" if "low-angle" in job.prompt.camera else "eye-level"
        scene_match = float(rng.random() < rates.scene[job.model])
        judge += [
            Measurement(image_id, "expression", text=str(judge_label)),
            Measurement(image_id, "camera_angle", text=angle if rng.random() < 0.7 else "unclear"),
            Measurement(image_id, "shot_size", text="close-up" if rng.random() < 0.6 else "medium"),
            Measurement(image_id, "scene_match", value=scene_match),
            Measurement(image_id, "style_match", value=float(rng.random() < 0.75)),
            Measurement(
                image_id, "scene_p_yes", value=float(np.clip(rng.normal(0.7 if scene_match else 0.3, 0.1), 0, 1))
            ),
            Measurement(image_id, "aesthetic", value=float(rng.uniform(0.3, 0.9))),
            Measurement(image_id, "ai_likelihood", value=float(rng.uniform(0.1, 0.5))),
            Measurement(image_id, "description", text=f"A picture {judge_secret}<b>bold</b>"),
        ]
        faces += [
            Measurement(image_id, "expression", text=str(faces_label)),
            Measurement(image_id, "camera_angle", text="no face" if faces_label == "no face" else angle),
            Measurement(image_id, "face_count", value=0.0 if faces_label == "no face" else 1.0),
        ]
        clip += [
            Measurement(image_id, "clip_score", value=float(rng.normal(0.26 + rates.clip_shift[job.model], 0.02))),
            Measurement(image_id, "aesthetic", value=float(rng.normal(5.5, 0.5))),
            Measurement(image_id, "clip_camera", value=float(rng.normal(0.18, 0.02))),
            Measurement(image_id, "clip_truncated", value=float(number == 0)),
        ]
        pixels.append(Measurement(image_id, "entropy", value=float(rng.uniform(5, 7.5))))
    ids = [row.id for row in store.images()]
    for analyzer, rows in (("judge", judge), ("faces", faces), ("clip", clip), ("pixels", pixels)):
        store.write_analysis(analyzer, "1", rows, ids)
    for analyzer, specs in declared_specs().items():
        store.register_specs(analyzer, "1", specs)
    clip_score = next(spec for spec in declared_specs()["clip"] if spec.name == "clip_score")
    store.register_specs(
        "clip", "1", [replace(clip_score, unit="cosine", better="higher", description="CLIP image-prompt cosine")]
    )
    return store


def declared_specs() -> dict[str, list[MeasurementSpec]]:
    """The measurement specs (with their roles) the real analyzers declare."""
    from viewfinder.analyze.analyzers.clip import clip_specs
    from viewfinder.analyze.analyzers.faces import SPECS as FACES
    from viewfinder.analyze.analyzers.pixels import SPECS as PIXELS
    from viewfinder.judge.fields import JUDGE_SPECS

    return {
        "judge": JUDGE_SPECS,
        "faces": FACES,
        "pixels": PIXELS,
        "clip": clip_specs("openai/clip-vit-base-patch32", 77, "sac+logos+ava1-l14-linearMSE"),
    }
