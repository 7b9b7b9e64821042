"""``viewfinder import`` and ``viewfinder labels import``: a run from images made elsewhere,
bad rows named by file:line and field, then analyze (pixels), score, report and export on it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from viewfinder.cli import app
from viewfinder.labels.importer import model_name
from viewfinder.labels.questions import canonical_label
from viewfinder.store import RunStore

GRAMMAR = "facial-expressions Happiness: Overjoyed ; A grandmother; {camera}; Elderly; A sunlit kitchen; cinematic"


def _png(path: Path, seed: int) -> None:
    pixels = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="PNG")


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    images = tmp_path / "made"
    for index in range(4):
        _png(images / "sub" / f"img{index}.png", index)
    (images / "broken.png").write_bytes(b"not an image at all")
    rows = [
        {
            "image": "sub/img0.png",
            "prompt": GRAMMAR.format(camera="low-angle close-up"),
            "model": "midjourney-v6",
            "seed": "7",
        },
        {
            "image": "sub/img1.png",
            "prompt": GRAMMAR.format(camera="eye-level"),
            "model": "fal:fal-ai/flux/dev",
            "seed": "",
        },
        {"image": "sub/img2.png", "prompt": "a cat on a sofa, watercolour", "model": "", "seed": "1"},
        {"image": "sub/missing.png", "prompt": GRAMMAR.format(camera="eye-level"), "model": "", "seed": ""},
        {"image": "broken.png", "prompt": GRAMMAR.format(camera="eye-level"), "model": "", "seed": ""},
        {"image": "sub/img3.png", "prompt": "  ", "model": "", "seed": ""},
        {"image": "sub/img3.png", "prompt": "x", "model": "", "seed": "seven"},
    ]
    with open(tmp_path / "prompts.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "prompt", "model", "seed"])
        writer.writeheader()
        writer.writerows(rows)
    return images


def import_prompts(folder: Path, prompts: Path, run_dir: Path) -> Result:
    """``viewfinder import FOLDER --prompts PROMPTS --workdir RUN_DIR``."""
    return CliRunner().invoke(app, ["import", str(folder), "--prompts", str(prompts), "--workdir", str(run_dir)])


def test_model_names_get_a_backend() -> None:
    assert model_name("midjourney-v6") == "import:midjourney-v6"
    assert model_name("fal:fal-ai/flux/dev") == "fal:fal-ai/flux/dev"
    assert model_name("") == "import:unknown"


def test_label_synonyms_become_canonical_words() -> None:
    assert canonical_label("camera_angle", "Low angle") == "low-angle"
    assert canonical_label("expression", "happy") == "happiness"
    assert canonical_label("expression", "No face") == "no face"
    assert canonical_label("scene_match", "Y") == "yes"
    assert canonical_label("shot_size", "sideways") is None


def test_import_keeps_good_rows_names_bad_ones_and_the_run_works_end_to_end(folder: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    run_dir = tmp_path / "run"
    prompts = tmp_path / "prompts.csv"
    result = import_prompts(folder, prompts, run_dir)
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert f"{prompts}:5: field 'image'" in text and "no file" in text
    assert f"{prompts}:6: field 'image'" in text and "not a readable image" in text
    assert f"{prompts}:7: field 'prompt'" in text
    assert f"{prompts}:8: field 'seed'" in text
    assert "imported 3 images" in text
    with RunStore(run_dir, create=False) as store:
        rows = store.images()
        assert [r.model for r in rows] == ["import:midjourney-v6", "fal:fal-ai/flux/dev", "import:unknown"]
        assert [r.seed for r in rows] == [7, None, 1]
        assert rows[0].camera == "low-angle close-up" and rows[0].emotion == "Happiness"
        assert rows[2].prompt_text == "a cat on a sofa, watercolour" and rows[2].camera == ""
        data = (folder / "sub" / "img0.png").read_bytes()
        assert (run_dir / rows[0].path).read_bytes() == data
        assert rows[0].path.startswith("images/") and rows[0].sha256 in rows[0].path
        assert sorted(store.image_sources().values()) == ["sub/img0.png", "sub/img1.png", "sub/img2.png"]
    # importing again adds nothing and loses nothing
    again = import_prompts(folder, prompts, run_dir)
    assert "imported 0 images (3 already in the run)" in " ".join(again.output.split())

    labels_csv = tmp_path / "labels.csv"
    labels_csv.write_text(
        "image,labeller,camera_angle,shot_size,expression,scene_match,style_match\n"
        "sub/img0.png,ann,low angle,close up,happy,yes,\n"
        "sub/img0.png,bob,eye-level,,happiness,no,yes\n"
        "sub/img1.png,ann,sideways,,,,\n"
        "sub/nope.png,ann,eye-level,,,,\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["labels", "import", str(run_dir), str(labels_csv)])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert f"{labels_csv}:4: field 'camera_angle'" in text and "'sideways' is not an answer" in text
    assert f"{labels_csv}:5: field 'image'" in text
    with RunStore(run_dir, create=False) as store:
        stored = {(lab.labeller, lab.dimension): lab.answer for lab in store.labels()}
    assert stored == {
        ("ann", "camera_angle"): "low-angle",
        ("ann", "shot_size"): "close-up",
        ("ann", "expression"): "happiness",
        ("ann", "scene_match"): "yes",
        ("bob", "camera_angle"): "eye-level",
        ("bob", "expression"): "happiness",
        ("bob", "scene_match"): "no",
        ("bob", "style_match"): "yes",
    }

    assert runner.invoke(app, ["analyze", str(run_dir), "--analyzers", "pixels"]).exit_code == 0
    scored = runner.invoke(app, ["score", str(run_dir), "--json"])
    assert scored.exit_code == 0, scored.output
    assert runner.invoke(app, ["report", str(run_dir)]).exit_code == 0
    assert "Happiness" in (run_dir / "report" / "post.md").read_text(encoding="utf-8")
    exported = runner.invoke(app, ["export", str(run_dir), "--format", "jsonl"])
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in (run_dir / "export.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 3 and all(isinstance(line["pixels.entropy"], float) for line in lines)
    assert lines[0]["label.ann.camera_angle"] == "low-angle" and lines[0]["label.bob.scene_match"] == "no"


def test_jsonl_prompts_with_an_unknown_key_skip_that_row(folder: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "\n".join(
            [
                json.dumps({"image": "sub/img0.png", "prompt": "a dog"}),
                json.dumps({"image": "sub/img1.png", "prompt": "a cat", "negative": "blurry"}),
                "{not json",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = import_prompts(folder, prompts, tmp_path / "r")
    text = " ".join(result.output.split())
    assert result.exit_code == 1
    assert f"{prompts}:2: field 'negative': unknown column" in text
    assert f"{prompts}:3: field '(line)': not valid JSON" in text
    with RunStore(tmp_path / "r", create=False) as store:
        assert len(store.images()) == 1


def test_a_prompts_file_without_the_prompt_column_is_bad_input(folder: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "p.csv"
    prompts.write_text("image,text\nsub/img0.png,a dog\n", encoding="utf-8")
    result = import_prompts(folder, prompts, tmp_path / "r")
    assert result.exit_code == 2
    assert "the header has no column 'prompt'" in " ".join(result.output.split())


def test_labels_from_import_option_are_stored(folder: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "p.csv"
    prompts.write_text(f'image,prompt\nsub/img0.png,"{GRAMMAR.format(camera="eye-level")}"\n', encoding="utf-8")
    labels_csv = tmp_path / "l.csv"
    labels_csv.write_text("image,labeller,camera_angle\nsub/img0.png,cy,Eye level\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            "import",
            str(folder),
            "--prompts",
            str(prompts),
            "--labels",
            str(labels_csv),
            "--workdir",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 0, result.output
    with RunStore(tmp_path / "r", create=False) as store:
        assert [(lab.labeller, lab.answer) for lab in store.labels()] == [("cy", "eye-level")]


def test_free_prompts_get_no_dimension_scores(folder: Path, tmp_path: Path) -> None:
    from viewfinder.judge.fields import JUDGE_SPECS
    from viewfinder.runfolder import open_run
    from viewfinder.score.adherence import image_adherence, present_methods
    from viewfinder.store import Measurement

    prompts = tmp_path / "p.csv"
    prompts.write_text(
        f'image,prompt\nsub/img0.png,"{GRAMMAR.format(camera="eye-level")}"\nsub/img1.png,a cat on a sofa\n',
        encoding="utf-8",
    )
    assert import_prompts(folder, prompts, tmp_path / "r").exit_code == 0
    store, study = open_run(tmp_path / "r")
    with store:
        ids = [row.id for row in store.images()]
        answers = [
            Measurement(i, name, text=text)
            for i in ids
            for name, text in (
                ("scene_match", "yes"),
                ("style_match", "no"),
                ("camera_angle", "eye-level"),
                ("expression", "happiness"),
            )
        ]
        store.register_specs("judge", "1", JUDGE_SPECS)
        store.write_analysis("judge", "1", answers, ids)
        table = store.measurement_table()
        items = image_adherence(store.images(), table, study, present_methods(table, store.spec_records()))
    grammar, free = items
    assert grammar.flags[("scene", "judge")] is True and grammar.flags[("style", "judge")] is False
    assert grammar.flags[("camera_angle", "judge")] is True
    assert grammar.flags[("emotion", "judge")] is True  # the emotion 'Happiness' counts happiness
    assert free.flags == {}
    assert study.emotion("Happiness").expressions == ["happiness"]


def test_a_csv_column_the_import_does_not_know_skips_rows_that_fill_it(folder: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "p.csv"
    prompts.write_text("image,prompt,negative\nsub/img0.png,a dog,\nsub/img1.png,a cat,blurry\n", encoding="utf-8")
    result = import_prompts(folder, prompts, tmp_path / "r")
    assert result.exit_code == 1
    assert f"{prompts}:3: field 'negative': unknown column" in " ".join(result.output.split())
    with RunStore(tmp_path / "r", create=False) as store:
        assert [row.prompt_text for row in store.images()] == ["a dog"]
