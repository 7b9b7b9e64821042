"""Faces end to end: `viewfinder run` against the fake fal queue serving real portraits."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("mediapipe")
from skimage import data  # noqa: E402

from tests.test_faces_images import _rerender_turned, _turn  # noqa: E402

STUDY = """
name = "faces-e2e"
topic = "facial-expressions"
cameras = ["eye-level", "high-angle", "low-angle"]
styles = ["photorealistic"]
models = ["fal:fal-ai/flux/schnell"]
seeds = [0]

[analysis]
analyzers = ["faces"]

[[emotions]]
name = "Joy"
expressions = ["happiness", "contempt"]

[[emotions.cases]]
variant = "Beaming"
subject = "A woman"
category = "Single Persons"
scene = "A studio portrait"
"""


def test_run_measures_camera_angle_and_emotion_from_the_faces(fal_server, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from viewfinder.cli import app
    from viewfinder.faces.detect import FaceFinder
    from viewfinder.store import RunStore

    astronaut = data.astronaut()
    finder = FaceFinder()
    mesh = finder.scan(astronaut).landmarks
    finder.close()
    # The "model" draws the smiling astronaut from where the prompt puts the camera. Her head
    # is bowed a little (pitch about 25 after calibration, within the frame tie-break band of the
    # 22.5-degree decision limit, so the picture as it is would test the tie-break): bowing it 5
    # degrees more reads high-angle (pitch about 35), raising her face 12 degrees brings it
    # level, 30 puts the camera below.
    pictures = {
        "eye-level": _rerender_turned(astronaut, mesh, _turn("x", -12)),
        "high-angle": _rerender_turned(astronaut, mesh, _turn("x", 5)),
        "low-angle": _rerender_turned(astronaut, mesh, _turn("x", -30)),
    }

    def portrait(arguments: dict, ctx) -> dict:
        camera = arguments["prompt"].split(";")[2].strip()
        buffer = io.BytesIO()
        Image.fromarray(pictures[camera]).save(buffer, format="JPEG", quality=92)
        url = ctx.add_file("out.jpg", buffer.getvalue(), "image/jpeg")
        return {
            "images": [{"url": url, "width": 512, "height": 512, "content_type": "image/jpeg"}],
            "seed": arguments.get("seed", 0),
            "has_nsfw_concepts": [False],
            "prompt": arguments["prompt"],
            "timings": {},
        }

    fal_server.set_result("fal-ai/flux/schnell", portrait)
    study = tmp_path / "study.toml"
    study.write_text(STUDY, encoding="utf-8")
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(study), "--workdir", str(run_dir)])
    assert result.exit_code == 0, result.output
    with RunStore(run_dir, create=False) as store:
        cameras = {row.id: row.camera for row in store.images()}
        table = store.measurement_table()
    seen = {cameras[image_id]: values for image_id, values in table.items()}
    assert set(seen) == {"eye-level", "high-angle", "low-angle"}
    for camera, values in seen.items():
        assert values["faces.camera_angle"] == camera
        assert values["faces.expression"] == "happiness"
        assert values["faces.face_count"] == 1
    assert (
        seen["high-angle"]["faces.pitch"]
        > 15
        > seen["eye-level"]["faces.pitch"]
        > -15
        > seen["low-angle"]["faces.pitch"]
    )
    post = (run_dir / "report" / "post.md").read_text(encoding="utf-8")
    assert "Camera angle (faces analyzer)" in post and "Emotion (faces analyzer)" in post
    # The methods say what the face angle cannot tell apart, and that the model has no contempt.
    assert "- Faces analyzer, camera angle: from head pitch" in post
    assert "a head bowed at eye level reads like a camera above" in post
    assert "has no contempt class, so for Joy only the study's other expressions can match" in post
    html = (run_dir / "report" / "index.html").read_text(encoding="utf-8")
    assert "has no contempt class, so for Joy only the study's other expressions can match" in html
    assert np.isfinite([values["faces.yaw"] for values in seen.values()]).all()
