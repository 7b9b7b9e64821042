"""A run folder filled directly through RunStore, as the pipeline stages would fill it.

Used by the report tests: real SQLite, real image files, realistic measurement names and
specs from the cross-team contracts, judge answers that may carry hostile text.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from markdown_it import MarkdownIt
from PIL import Image
from rich.console import Console
from test_score_support import declared_specs

from viewfinder.score import run_scoring
from viewfinder.store import Measurement, MeasurementSpec, NewImage, RunStore, write_image
from viewfinder.study import Study, expand_jobs, parse_study
from viewfinder.study.grid import Job


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every element an HTML parser creates from ``html``, with its attributes."""
    parser = _Elements()
    parser.feed(html)
    return parser.found


def render_markdown(md: str) -> str:
    """Markdown to HTML as a permissive renderer would (raw HTML allowed, tables on)."""
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(md)


def elements_of_markdown(md: str) -> list[tuple[str, dict[str, str | None]]]:
    return elements(render_markdown(md))


HOSTILE_VARIANT = (
    'Sly <script>window.__pwned = 1</script> **bold** ![x](javascript:alert(1)) <img src=x onerror="window.__pwned=2">'
)
HOSTILE_TITLE = '<img src=x onerror="window.__pwned=3"> # Heading <script>window.__pwned=4</script>'
HOSTILE_DESCRIPTION = "[click](javascript:window.__pwned=5) | table | <b>bold</b> &amp; `code` \n# not a heading"

STUDY_TOML = """
name = "report-test"
topic = "facial-expressions"
description = "A small study for the report tests."
cameras = ["eye-level", "low-angle close-up"]
styles = ["cinematic"]
models = ["fal:fal-ai/flux/schnell", "fal:fal-ai/flux/dev"]
seeds = [0, 1]
sources = ["https://dramaresource.com/storytelling/", "javascript:alert(1)"]

[[emotions]]
name = "Jealousy"
expressions = ["contempt", "anger", "sadness"]
[[emotions.cases]]
variant = "Lonely and envious"
subject = "A single woman"
category = "Single Persons"
scene = "A crowded party with couples dancing and laughing"

[[emotions]]
name = "Joy"
expressions = ["happiness"]
[[emotions.cases]]
variant = "Delighted"
subject = "A child with a kite"
category = "Children"
scene = "A windy beach"
"""

HOSTILE_CASE = """
[[emotions.cases]]
variant = '''{variant}'''
subject = "A man"
category = "Normal People"
scene = "A cafe"
"""


def _like(analyzer: str, name: str, unit: str, better: str, description: str) -> MeasurementSpec:
    """The real analyzer's spec (with its roles) under this fixture's unit, direction and wording."""
    declared = {spec.name: spec for spec in declared_specs()[analyzer]}
    return replace(declared[name], unit=unit, better=better, description=description)


SPECS = {
    "pixels": [
        _like("pixels", "entropy", "bits 0-8", "higher", "Shannon entropy of the 8-bit luminance histogram"),
        _like("pixels", "noise", "8-bit levels", "lower", "noise standard deviation (wavelet estimator)"),
        _like("pixels", "sharpness", "variance of Laplacian", "higher", "variance of the Laplacian of luminance"),
    ],
    "clip": [
        _like("clip", "clip_score", "cosine -1..1", "higher", "cosine of CLIP image and prompt embeddings"),
        _like("clip", "aesthetic", "1-10", "higher", "LAION aesthetic predictor"),
    ],
    "judge": [
        _like("judge", "title", "text", "none", "a short title"),
        _like("judge", "description", "text", "none", "what the image shows"),
        _like("judge", "shot", "text", "none", "the shot"),
        _like("judge", "moods", "three words", "none", "moods"),
        _like("judge", "image_errors", "text", "none", "visible errors"),
        _like("judge", "aesthetic", "0-1", "higher", "the judge's aesthetic score"),
        _like("judge", "ai_likelihood", "0-1", "lower", "likelihood the image is AI-made"),
        _like("judge", "camera_angle", "canonical angle", "none", "camera angle the judge sees"),
        _like("judge", "expression", "canonical expression", "none", "expression the judge sees"),
        _like("judge", "scene_match", "1/0", "higher", "the scene matches the prompt"),
        _like("judge", "style_match", "1/0", "higher", "the style matches the prompt"),
        _like("judge", "judge_model", "text", "none", "the judge model"),
    ],
    "faces": [
        _like("faces", "face_count", "faces", "none", "faces found"),
        _like("faces", "expression", "canonical expression", "none", "top expression"),
        _like("faces", "camera_angle", "canonical angle", "none", "angle from head pose"),
    ],
}
ANGLES = ("eye-level", "low-angle", "high-angle", "unclear")
EXPRESSIONS = ("contempt", "happiness", "neutral", "no face", "anger")


def study_text(hostile: bool, seeds: int = 2, models: list[str] | None = None, long_prompt: bool = False) -> str:
    text = STUDY_TOML.replace("seeds = [0, 1]", f"seeds = {list(range(seeds))}")
    if models is not None:
        default = 'models = ["fal:fal-ai/flux/schnell", "fal:fal-ai/flux/dev"]'
        text = text.replace(default, f"models = {json.dumps(models)}")
    if long_prompt:  # a 6,000-character scene (a pasted story), to check the card stays short
        text = text.replace('scene = "A windy beach"', f'scene = "{LONG_SCENE}"')
    if hostile:
        head, _, tail = text.partition('\n[[emotions]]\nname = "Joy"')
        text = head + HOSTILE_CASE.format(variant=HOSTILE_VARIANT) + '\n[[emotions]]\nname = "Joy"' + tail
    return text


LONG_SCENE = ("A windy beach where the waves keep breaking and the gulls keep calling, " * 90)[:6000].strip()

#: answers(job, index, method) -> (camera angle, expression) the judge or the faces analyzer gives
Answers = Callable[[Job, int, str], tuple[str, str]]


def shifted(job: Job, i: int, method: str) -> tuple[str, str]:
    """The default: the two methods give different answers in a fixed rotation (they disagree)."""
    k = i if method == "judge" else i + 1
    return ANGLES[k % len(ANGLES)], EXPRESSIONS[k % len(EXPRESSIONS)]


def requested_angle(job: Job) -> str:
    return "low-angle" if "low-angle" in job.prompt.camera else "eye-level"


def agreeing(job: Job, i: int, method: str) -> tuple[str, str]:
    """Both methods give the same answer: the requested angle for 3 images in 4, a face that shows
    the emotion for half of them."""
    angle = requested_angle(job) if i % 4 else "high-angle"
    return angle, ("contempt" if job.prompt.emotion == "Jealousy" else "happiness") if i % 2 else "neutral"


def opposite(job: Job, i: int, method: str) -> tuple[str, str]:
    """The judge always sees the requested angle, the faces analyzer never (intervals far apart)."""
    return (requested_angle(job) if method == "judge" else "high-angle"), "neutral"


def model_better(winner: str) -> Answers:
    """Both methods see the requested angle on ``winner``'s images and never on the others'."""

    def answers(job: Job, i: int, method: str) -> tuple[str, str]:
        return (requested_angle(job) if job.model == winner else "high-angle"), "neutral"

    return answers


def _jpeg(rng: np.random.Generator, size: tuple[int, int] = (96, 72)) -> bytes:
    base = rng.integers(0, 255, 3)
    pixels = np.clip(base + rng.normal(0, 30, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def make_run(
    run_dir: Path,
    *,
    hostile: bool = False,
    unmeasured: int = 1,
    seed: int = 7,
    score: bool = True,
    seeds: int = 2,
    models: list[str] | None = None,
    judge: str = "ok",
    answers: Answers = shifted,
    long_prompt: bool = False,
) -> tuple[RunStore, Study]:
    """A run with every job's image stored and measured (the first ``unmeasured`` images have
    no pixels/clip numbers, to show "not measured"), scored by the scoring stage.

    ``judge``: "ok", "none" (no judge in the study) or "failed" (the judge failed on every
    image); ``answers`` gives each method's camera angle and expression per image."""
    text = study_text(hostile, seeds, models, long_prompt)
    study = parse_study(text)
    store = RunStore(run_dir)
    store.set_meta("study_name", study.name)
    store.set_meta("study_toml", text)
    jobs = list(expand_jobs(study))
    store.add_jobs(jobs)
    for analyzer, specs in SPECS.items():
        if analyzer != "judge" or judge != "none":
            store.register_specs(analyzer, "1.0", specs)
    rng = np.random.default_rng(seed)
    for i, job in enumerate(jobs):
        size = (704, 528) if i % 3 == 0 else (96, 72)  # larger than a thumbnail, or already small
        digest, rel = write_image(run_dir, _jpeg(rng, size), "jpg")
        image = NewImage(
            sha256=digest,
            path=rel,
            size=(run_dir / rel).stat().st_size,
            fmt="jpeg",
            width=size[0],
            height=size[1],
            cost_usd=0.003,
        )
        image_id = store.add_image(job.id, image, model=job.model, seed=job.seed)
        store.complete_job(job.id, cost_usd=0.003)
        store.add_cost("generation", job.model, 0.003, job_id=job.id, image_id=image_id)
        store.add_cost("judge", "openai:gpt-4o-mini", 0.0004, image_id=image_id)
        if i >= unmeasured:
            store.write_analysis(
                "pixels",
                "1.0",
                [
                    Measurement(image_id, "entropy", float(rng.uniform(5, 7.5))),
                    Measurement(image_id, "noise", float(rng.uniform(40, 90))),
                    Measurement(image_id, "sharpness", float(rng.uniform(50, 900))),
                ],
                [image_id],
            )
            store.write_analysis(
                "clip",
                "1.0",
                [
                    Measurement(image_id, "clip_score", float(rng.uniform(0.18, 0.32))),
                    Measurement(image_id, "aesthetic", float(rng.uniform(4, 7))),
                ],
                [image_id],
            )
        title = HOSTILE_TITLE if hostile and i % 2 == 0 else f"A look that speaks volumes {i}"
        description = HOSTILE_DESCRIPTION if hostile else f"A person in a scene, image {i}."
        judge_angle, judge_expression = answers(job, i, "judge")
        faces_angle, faces_expression = answers(job, i, "faces")
        if judge == "failed":
            store.write_analysis(
                "judge",
                "1.0",
                [],
                [],
                failures={image_id: "HTTP 503 from the judge API after 4 tries: upstream <b>overloaded</b>"},
            )
        elif judge == "ok":
            store.write_analysis(
                "judge",
                "1.0",
                [
                    Measurement(image_id, "title", text=title),
                    Measurement(image_id, "description", text=description),
                    Measurement(image_id, "shot", text="A woman looking at the camera."),
                    Measurement(image_id, "moods", text="mysterious, alluring, intimate"),
                    Measurement(image_id, "image_errors", text="Some noise in the shadows."),
                    Measurement(image_id, "aesthetic", float(round(rng.uniform(0.5, 0.9), 1))),
                    Measurement(image_id, "ai_likelihood", float(round(rng.uniform(0.1, 0.4), 1))),
                    Measurement(image_id, "camera_angle", text=judge_angle),
                    Measurement(image_id, "expression", text=judge_expression),
                    Measurement(image_id, "scene_match", float(i % 3 != 0)),
                    Measurement(image_id, "style_match", 1.0),
                    Measurement(image_id, "judge_model", text="openai:gpt-4o-mini"),
                ],
                [image_id],
            )
        store.write_analysis(
            "faces",
            "1.0",
            [
                Measurement(image_id, "face_count", float(i % 3)),
                Measurement(image_id, "expression", text=faces_expression),
                Measurement(image_id, "camera_angle", text=faces_angle),
            ],
            [image_id],
        )
    store.save_text("judge_prompt", "v1", "Describe the image ...")
    if score:
        run_scoring(store, study, Console(quiet=True))
    return store, study
