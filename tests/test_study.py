"""Study files: the grid, deterministic ids, the examples, and a clear error for each bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.study_text import case_toml, emotion_toml
from viewfinder.errors import BadInput
from viewfinder.study import expand_jobs, expand_prompts, load_study, parse_study
from viewfinder.study.grammar import FIELDS, parse_prompt
from viewfinder.study.vocabulary import CameraPosition, parse_camera

ROOT = Path(__file__).resolve().parents[1]
SEED_PROMPTS = (ROOT / "tests" / "data" / "seed_prompts.txt").read_text(encoding="utf-8").splitlines()

MINIMAL = """\
name = "mini"
topic = "facial-expressions"
cameras = ["eye-level", "low-angle"]
styles = ["cinematic"]
seeds = [1, 2]
""" + emotion_toml("Joy", ["happiness"], ("Laughing", "A child", "Kids", "A park"))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "viewfinder", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_seed_example_expands_to_the_seed_prompts_in_order() -> None:
    result = run_cli("expand", "examples/seed.toml", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["text"] for row in rows] == SEED_PROMPTS
    for row in rows:
        assert set(row) == {"id", "text", *FIELDS}
        assert parse_prompt(row["text"]).fields() == {k: row[k] for k in row if k not in {"id", "text"}}


def test_facial_expressions_example_is_a_real_study() -> None:
    study = load_study(ROOT / "examples" / "facial-expressions.toml")
    assert len(study.emotions) >= 6
    assert all(len(emotion.cases) >= 2 and emotion.expressions for emotion in study.emotions)
    assert len(study.cameras) >= 4 and len(study.styles) >= 2
    prompts = expand_prompts(study)
    cases = sum(len(e.cases) for e in study.emotions)
    assert len(prompts) == cases * len(study.cameras) * len(study.styles)
    assert len({p.text for p in prompts}) == len(prompts)


def test_grid_crosses_everything_with_deterministic_ids() -> None:
    study = parse_study(MINIMAL)
    jobs = list(expand_jobs(study, ["fal:a/b", "fal:c/d"]))
    assert len(jobs) == 1 * 2 * 1 * 2 * 2
    assert len({job.id for job in jobs}) == len(jobs)
    again = [job.id for job in expand_jobs(parse_study(MINIMAL), ["fal:a/b", "fal:c/d"])]
    assert again == [job.id for job in jobs]
    changed = parse_study(MINIMAL.replace("seeds = [1, 2]", "seeds = [1, 3]"))
    changed_ids = {job.id for job in expand_jobs(changed, ["fal:a/b", "fal:c/d"])}
    assert len(changed_ids & set(again)) == 4  # seed 1 jobs are unchanged, seed 3 ones are new


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eye-level", CameraPosition("eye-level", None)),
        ("Low angle", CameraPosition("low-angle", None)),
        ("close-up", CameraPosition(None, "close-up")),
        ("extreme close-up", CameraPosition(None, "extreme close-up")),
        ("low-angle close-up", CameraPosition("low-angle", "close-up")),
        ("bird's eye view, wide shot", CameraPosition("bird's-eye", "wide")),
        ("worm\u2019s-eye", CameraPosition("worm's-eye", None)),
        ("dutch angle medium shot", CameraPosition("dutch", "medium")),
        ("sideways", None),
        ("eye-level banana", None),
    ],
)
def test_camera_vocabulary(text: str, expected: CameraPosition | None) -> None:
    assert parse_camera(text) == expected


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _bad(case: str, old: str, new: str, line: int | None, expected: str) -> object:
    """MINIMAL with ``old`` replaced by ``new``: the error names study.toml (and ``line``) and says ``expected``."""
    where = "study.toml" if line is None else f"study.toml:{line}"
    return pytest.param(MINIMAL.replace(old, new), where, expected, id=case)


BAD_STUDIES = [
    _bad("toml-syntax", 'styles = ["cinematic"]', 'styles = ["cinematic"', 5, "TOML syntax error"),
    _bad("missing-key", 'topic = "facial-expressions"\n', "", None, "field topic: add the key 'topic'"),
    _bad("unknown-key", "seeds = [1, 2]", 'seeds = [1, 2]\ncolour = "red"', 6, "field colour: unknown key 'colour'"),
    _bad("wrong-type", "seeds = [1, 2]", 'seeds = ["one"]', 5, "field seeds[0]: expected a int"),
    _bad("empty-list", 'styles = ["cinematic"]', "styles = []", 4, "field styles: the list is empty"),
    pytest.param(
        MINIMAL + case_toml("Laughing", "A child", "Kids", "A park"),
        "study.toml:17",
        "field emotions[0].cases[1]: case 2 (variant 'Laughing') repeats an earlier case",
        id="duplicate-case",
    ),
    _bad("unknown-camera", '"low-angle"', '"sideways"', 3, "unknown camera position 'sideways'"),
    _bad("missing-nested", 'subject = "A child"\n', "", 11, "emotions[0].cases[0].subject: add the key 'subject'"),
    _bad("unknown-expression", '["happiness"]', '["glee"]', 9, "unknown facial expression 'glee'"),
]


@pytest.mark.parametrize(("text", "where", "expected"), BAD_STUDIES)
def test_bad_study_gives_one_clear_message(tmp_path: Path, text: str, where: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(BadInput) as info:
        load_study(path)
    message = str(info.value)
    assert message.startswith(str(tmp_path / where)), message
    assert expected in message


@pytest.mark.parametrize(("text", "where", "expected"), BAD_STUDIES[:3] + BAD_STUDIES[5:7])
def test_bad_study_exits_2_without_traceback(tmp_path: Path, text: str, where: str, expected: str) -> None:
    result = run_cli("expand", str(write(tmp_path, text)))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert expected in result.stderr
    assert where.split(":")[0] in result.stderr


def test_missing_study_file(tmp_path: Path) -> None:
    result = run_cli("expand", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "study file not found" in result.stderr


PER_MODEL = (
    MINIMAL.replace("seeds = [1, 2]", 'seeds = [1, 2]\nmodels = ["fal:fal-ai/flux/schnell", "fal:fal-ai/flux/dev"]')
    + """
[generation]
num_inference_steps = 4

[generation.per_model."fal:fal-ai/flux/dev"]
num_inference_steps = 28
guidance_scale = 3.5
"""
)


def test_per_model_settings_change_only_that_models_jobs() -> None:
    study = parse_study(PER_MODEL)
    jobs = list(expand_jobs(study))
    dev = [job for job in jobs if job.model == "fal:fal-ai/flux/dev"]
    schnell = [job for job in jobs if job.model == "fal:fal-ai/flux/schnell"]
    assert {job.params["num_inference_steps"] for job in dev} == {28}
    assert {job.params["guidance_scale"] for job in dev} == {3.5}
    assert {job.params["num_inference_steps"] for job in schnell} == {4}
    assert all("guidance_scale" not in job.params and "per_model" not in job.params for job in schnell)
    without = parse_study(PER_MODEL.split("[generation.per_model")[0])
    plain = {job.id for job in expand_jobs(without)}
    assert {job.id for job in schnell} <= plain  # ids of unchanged models stay the same
    assert not {job.id for job in dev} & plain


@pytest.mark.parametrize(
    ("text", "where", "expected"),
    [
        (
            PER_MODEL.replace('per_model."fal:fal-ai/flux/dev"', 'per_model."fal:fal-ai/flux/pro"'),
            "study.toml:21",
            "field generation.per_model.fal:fal-ai/flux/pro: 'fal:fal-ai/flux/pro' is not in the study's models",
        ),
        (
            PER_MODEL.replace("num_inference_steps = 28", "num_steps = 28"),
            "study.toml:22",
            "field generation.per_model.fal:fal-ai/flux/dev.num_steps: unknown key 'num_steps'",
        ),
    ],
)
def test_bad_per_model_settings(tmp_path: Path, text: str, where: str, expected: str) -> None:
    with pytest.raises(BadInput) as info:
        load_study(write(tmp_path, text))
    assert str(info.value).startswith(str(tmp_path / where)), str(info.value)
    assert expected in str(info.value)
