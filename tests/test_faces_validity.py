"""bench/faces_validity.py: label reading, the figures, and a run on a tiny labelled folder."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

BENCH = Path(__file__).resolve().parents[1] / "bench" / "faces_validity.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("faces_validity", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["faces_validity"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules["faces_validity"]


def test_tilt_and_pan_become_viewfinder_pitch_and_yaw(bench, tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text(
        "file,person,tilt_deg,pan_deg,expression\n"
        "a.jpg,1,-30,15,happy\n"  # looks down: seen from above; turned to the image's left
        "b.jpg,1,15,-45,\n"
        "c.jpg,2,,,\n",
        encoding="utf-8",
    )
    a, b, c = bench.read_labels(tmp_path / "labels.csv")
    assert (a.pitch, a.yaw, a.camera_angle, a.expression) == (30.0, -15.0, "high-angle", "happiness")
    assert (b.pitch, b.yaw, b.camera_angle, b.expression) == (-15.0, 45.0, "eye-level", None)
    assert (c.pitch, c.camera_angle) == (None, None)
    assert a.path == tmp_path / "a.jpg"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("a.jpg,up,", r"labels\.csv: line 3: field 'tilt' = 'up' is not a number"),
        (
            "a.jpg,,sideways",
            r"labels\.csv: line 3: field 'camera_angle' = 'sideways' is not one of eye-level",
        ),
        (",10,", r"labels\.csv: line 3: field 'file' is empty"),
    ],
)
def test_a_bad_label_names_the_line_and_field(bench, tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(f"file,tilt,camera_angle\nok.jpg,0,eye-level\n{row}\n", encoding="utf-8")
    with pytest.raises(bench.BadInput, match=message):
        bench.read_labels(path)


def test_figures_count_found_faces_errors_and_classes(bench) -> None:
    labels = [
        bench.Label(Path(f"{i}.jpg"), pitch=p, yaw=y, camera_angle=a, expression=e)
        for i, (p, y, a, e) in enumerate(
            [
                (0.0, 10.0, "eye-level", "happiness"),
                (30.0, -20.0, "high-angle", "sadness"),
                (-60.0, 0.0, "worm's-eye", "anger"),
                (15.0, 5.0, "eye-level", "happiness"),
            ]
        )
    ]
    measured = [
        {
            "face_count": 1.0,
            "pitch": 4.0,
            "yaw": 12.0,
            "camera_angle": "eye-level",
            "expression": "happiness",
        },
        {
            "face_count": 1.0,
            "pitch": 20.0,
            "yaw": -26.0,
            "camera_angle": "high-angle",
            "expression": "neutral",
        },
        {"face_count": 0.0, "camera_angle": "no face", "expression": "no face"},
        {"face_count": 1.0, "camera_angle": "eye-level", "expression": "happiness"},
    ]  # a face, no mesh
    fig = bench.figures(labels, measured)
    assert (fig["face_found"], fig["posed"], fig["band_photos"], fig["band_face_found"]) == (3, 2, 3, 3)
    assert fig["pitch"]["n"] == 2 and fig["pitch"]["mae"] == pytest.approx((4 + 10) / 2)
    assert fig["yaw"]["mae"] == pytest.approx((2 + 6) / 2)
    angle = fig["camera_angle"]
    assert (angle["right"], angle["n"]) == (3, 4)
    low, high = angle["interval"]
    assert 0.2 < low < 0.75 < high < 1.0
    assert angle["labels"] == ["eye-level", "high-angle", "worm's-eye", "no face"]
    assert angle["matrix"][2] == [0, 0, 0, 1]  # the worm's-eye photo: no face found
    assert fig["expression"]["per_class"] == {
        "happiness": {"n": 2, "right": 2},
        "sadness": {"n": 1, "right": 0},
        "anger": {"n": 1, "right": 0},
    }
    text = bench.report(fig)
    assert "camera_angle: accuracy 3/4 = 75.0%" in text and "per class: happiness 2/2 = 100.0%" in text


def test_the_bench_runs_the_analyzer_on_a_labelled_folder(bench, tmp_path: Path, capsys) -> None:
    pytest.importorskip("mediapipe")
    from skimage import data

    folder = tmp_path / "photos"
    (folder / "img").mkdir(parents=True)
    Image.fromarray(data.astronaut()).save(folder / "img" / "astronaut.jpg", quality=92)
    Image.fromarray(np.ascontiguousarray(data.astronaut()[:, ::-1])).save(folder / "img" / "mirrored.jpg", quality=92)
    Image.fromarray(data.chelsea()).save(folder / "img" / "cat.jpg", quality=92)
    (folder / "labels.csv").write_text(
        "file,pitch,yaw,camera_angle,shot_size,expression\n"
        "img/astronaut.jpg,20,0,high-angle,medium,happy\n"
        "img/mirrored.jpg,20,0,eye-level,medium,sad\n"
        "img/cat.jpg,,,,,\n",
        encoding="utf-8",
    )
    out = tmp_path / "figures.json"
    assert bench.main([str(folder), "--workers", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    fig = json.loads(out.read_text(encoding="utf-8"))
    assert fig["photos"] == 3 and fig["face_found"] == 2 and fig["posed"] == 2
    assert fig["yaw"]["mae"] < 8 and fig["pitch"]["mae"] < 15  # she reads about 25 degrees from above
    assert fig["camera_angle"]["right"] == 1 and fig["camera_angle"]["n"] == 2  # the label "eye-level" is wrong
    assert fig["shot_size"]["right"] == 2
    assert fig["expression"]["per_class"] == {
        "happiness": {"n": 1, "right": 1},
        "sadness": {"n": 1, "right": 0},
    }
    assert "face found: 2/3 = 66.7%" in printed and "expression: accuracy 1/2 = 50.0%" in printed
    # A missing photo is bad input: exit 2, naming it.
    (folder / "labels.csv").write_text("file,pitch\nimg/gone.jpg,0\n", encoding="utf-8")
    assert bench.main([str(folder)]) == 2
    assert "gone.jpg: no such photo" in capsys.readouterr().err
