"""Faces: camera rules, solvePnP head pose on projected heads, the landmark expression map."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from viewfinder.faces.camera import camera_angle, shot_size
from viewfinder.faces.pose import HEAD_MODEL_MM, PITCH_ZERO_DEG, POSE_LANDMARKS, head_pose, pose_from_rotation
from viewfinder.study.vocabulary import CAMERA_ANGLES, EXPRESSIONS, SHOT_SIZES


# -- camera angle and shot size rules ---------------------------------------------------------
@pytest.mark.parametrize(
    ("pitch", "expected"),
    [(0.0, "eye-level"), (14.9, "eye-level"), (-15.0, "eye-level"), (15.1, "high-angle"), (45.0, "high-angle"),
     (45.1, "bird's-eye"), (80.0, "bird's-eye"), (-15.1, "low-angle"), (-45.0, "low-angle"), (-60.0, "worm's-eye")],
)
def test_camera_angle_thresholds(pitch: float, expected: str) -> None:
    assert camera_angle(pitch) == expected
    assert expected in CAMERA_ANGLES


def test_frame_position_breaks_ties_only_near_the_eye_level_limits() -> None:
    # Within 3 degrees of -15: a face high in the frame (camera below it) reads low-angle,
    # a face low in the frame eye-level; the middle third keeps the plain threshold.
    assert camera_angle(-13.0, face_centre_y=0.2) == "low-angle"
    assert camera_angle(-13.0, face_centre_y=0.5) == "eye-level"
    assert camera_angle(-16.0, face_centre_y=0.9) == "eye-level"
    assert camera_angle(13.0, face_centre_y=0.9) == "high-angle"
    assert camera_angle(16.0, face_centre_y=0.1) == "eye-level"
    assert camera_angle(16.0, face_centre_y=0.5) == "high-angle"
    # Far from the limits the frame position changes nothing.
    assert camera_angle(0.0, face_centre_y=0.05) == "eye-level"
    assert camera_angle(30.0, face_centre_y=0.05) == "high-angle"
    assert camera_angle(-50.0, face_centre_y=0.95) == "worm's-eye"


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [(0.8, "extreme close-up"), (0.51, "extreme close-up"), (0.5, "close-up"), (0.3, "close-up"),
     (0.25, "medium"), (0.11, "medium"), (0.1, "wide"), (0.02, "wide")],
)
def test_shot_size_from_face_height(ratio: float, expected: str) -> None:
    assert shot_size(ratio) == expected
    assert expected in SHOT_SIZES


# -- head pose: project the generic head with a known rotation, read it back ------------------
SIZE = (1024, 1024)


def _projected_landmarks(rvec: tuple[float, float, float], distance: float = 500.0) -> np.ndarray:
    """478 x 3 landmarks whose pose points are the generic head turned by ``rvec`` about its
    centroid, ``distance`` in front of a pinhole camera (principal point (512, 400))."""
    rotation, _ = cv2.Rodrigues(np.array(rvec, float))
    centred = HEAD_MODEL_MM - HEAD_MODEL_MM.mean(axis=0)
    in_camera = centred @ rotation.T + np.array([0.0, 0.0, distance])
    focal = float(max(SIZE))
    landmarks = np.zeros((478, 3))
    landmarks[list(POSE_LANDMARKS), 0] = 512.0 + focal * in_camera[:, 0] / in_camera[:, 2]
    landmarks[list(POSE_LANDMARKS), 1] = 400.0 + focal * in_camera[:, 1] / in_camera[:, 2]
    return landmarks


def _axis_angle(axis: str, degrees: float) -> tuple[float, float, float]:
    radians = math.radians(degrees)
    return {"x": (radians, 0.0, 0.0), "y": (0.0, radians, 0.0), "z": (0.0, 0.0, radians)}[axis]


def test_frontal_projected_head_reads_zero_yaw_and_roll_and_the_documented_pitch_zero() -> None:
    pose = head_pose(_projected_landmarks((0.0, 0.0, 0.0)), SIZE)
    assert pose is not None
    assert abs(pose.yaw) < 0.5 and abs(pose.roll) < 0.5
    assert pose.pitch == pytest.approx(-PITCH_ZERO_DEG, abs=0.5)


@pytest.mark.parametrize("degrees", [-40.0, -20.0, 10.0, 30.0])
def test_rotation_about_the_vertical_axis_is_yaw_with_the_nose_towards_the_image_right_positive(degrees: float) -> None:
    # Rotating the head by -theta about the camera's y axis (y down) swings the nose to +x.
    pose = head_pose(_projected_landmarks(_axis_angle("y", -degrees)), SIZE)
    assert pose.yaw == pytest.approx(degrees, abs=1.0)
    assert abs(pose.roll) < 1.0
    assert pose.pitch + PITCH_ZERO_DEG == pytest.approx(0.0, abs=1.0)


@pytest.mark.parametrize("degrees", [-40.0, -15.0, 20.0, 35.0])
def test_pitch_is_positive_when_the_face_is_seen_from_above(degrees: float) -> None:
    # A positive turn about the camera's x axis (y down, z away) tips the chin away and the
    # nose down in the picture: the view a camera above the face has.
    pose = head_pose(_projected_landmarks(_axis_angle("x", degrees)), SIZE)
    assert pose.pitch + PITCH_ZERO_DEG == pytest.approx(degrees, abs=1.0)
    assert abs(pose.yaw) < 1.0 and abs(pose.roll) < 1.0


@pytest.mark.parametrize("degrees", [-30.0, -5.0, 12.0, 45.0])
def test_roll_is_positive_counter_clockwise_in_the_picture(degrees: float) -> None:
    # With y pointing down, a counter-clockwise turn on screen is a negative angle about z.
    pose = head_pose(_projected_landmarks(_axis_angle("z", -degrees)), SIZE)
    assert pose.roll == pytest.approx(degrees, abs=1.0)
    assert abs(pose.yaw) < 1.0


def test_pose_from_rotation_matches_the_axes() -> None:
    identity = pose_from_rotation(np.eye(3))
    assert (identity.yaw, identity.pitch, identity.roll) == pytest.approx((0.0, 0.0, 0.0))
    rotation, _ = cv2.Rodrigues(np.array([0.0, math.radians(-25.0), 0.0]))
    assert pose_from_rotation(rotation).yaw == pytest.approx(25.0)


# -- the landmark expression estimate on edited meshes -------------------------------------------
@pytest.fixture(scope="module")
def astronaut_scan():
    """MediaPipe's scan of scikit-image's astronaut (a smiling portrait)."""
    pytest.importorskip("mediapipe")
    from skimage import data

    from viewfinder.faces.detect import FaceFinder

    finder = FaceFinder()
    try:
        yield finder.scan(data.astronaut())
    finally:
        finder.close()


@pytest.fixture(scope="module")
def neutral_mesh(astronaut_scan) -> np.ndarray:
    """The astronaut's mesh with the smile removed: corners level with the lips, neutral width."""
    from viewfinder.faces.expression import EYE_OUTER, MOUTH_CORNERS

    mesh = astronaut_scan.landmarks.copy()
    lips_y = (mesh[13, 1] + mesh[14, 1]) / 2
    centre_x = (mesh[61, 0] + mesh[291, 0]) / 2
    eye_width = np.linalg.norm(mesh[EYE_OUTER[1], :2] - mesh[EYE_OUTER[0], :2])
    for index, side in zip(MOUTH_CORNERS, (-1, 1), strict=False):
        mesh[index, :2] = (centre_x + side * 0.25 * eye_width, lips_y)
    mesh[14, 1] = mesh[13, 1]  # lips closed
    return mesh


def _face_height(mesh: np.ndarray) -> float:
    return float(np.linalg.norm(mesh[152, :2] - mesh[10, :2]))


def _top(mesh: np.ndarray) -> str:
    from viewfinder.faces.expression import landmark_expression

    probabilities = landmark_expression(mesh)
    assert set(probabilities) == set(EXPRESSIONS)
    assert sum(probabilities.values()) == pytest.approx(1.0)
    return max(probabilities, key=probabilities.get)


def test_the_smiling_astronaut_mesh_reads_happiness_and_without_the_smile_neutral(astronaut_scan, neutral_mesh) -> None:
    assert _top(astronaut_scan.landmarks) == "happiness"
    assert _top(neutral_mesh) == "neutral"


def test_lowered_mouth_corners_read_sadness(neutral_mesh) -> None:
    mesh = neutral_mesh.copy()
    mesh[[61, 291], 1] += 0.06 * _face_height(mesh)
    assert _top(mesh) == "sadness"


def test_open_mouth_and_raised_brows_read_surprise(neutral_mesh) -> None:
    mesh = neutral_mesh.copy()
    height = _face_height(mesh)
    mesh[14, 1] += 0.12 * height
    mesh[[105, 334], 1] -= 0.05 * height
    assert _top(mesh) == "surprise"


def test_lowered_squeezed_brows_read_anger(neutral_mesh) -> None:
    mesh = neutral_mesh.copy()
    height = _face_height(mesh)
    mesh[[105, 334], 1] += 0.04 * height
    centre = (mesh[55, 0] + mesh[285, 0]) / 2
    mesh[[55, 285], 0] = centre + (mesh[[55, 285], 0] - centre) * 0.6
    assert _top(mesh) == "anger"


def test_one_raised_mouth_corner_reads_contempt(neutral_mesh) -> None:
    mesh = neutral_mesh.copy()
    mesh[291, 1] -= 0.04 * _face_height(mesh)
    assert _top(mesh) == "contempt"


def test_a_lopsided_mouth_on_a_turned_face_is_not_contempt(neutral_mesh) -> None:
    mesh = neutral_mesh.copy()
    mesh[291, 1] -= 0.04 * _face_height(mesh)
    # Foreshorten the eye on the image's right, as a head turned away from the camera does.
    inner, outer = mesh[362, 0], mesh[263, 0]
    mesh[263, 0] = inner + 0.5 * (outer - inner)
    assert _top(mesh) != "contempt"


def test_without_mediapipe_the_analyzer_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from viewfinder.analyze.registry import ANALYZERS
    from viewfinder.errors import BadInput
    from viewfinder.study.schema import Analysis

    monkeypatch.setitem(sys.modules, "mediapipe.python.solutions", None)  # makes the import fail
    with pytest.raises(BadInput, match=r"pip install 'viewfinder\[faces\]'.*drop 'faces'"):
        ANALYZERS["faces"](Analysis())


@pytest.mark.parametrize("angles", [(0.0, 0.0, 0.0), (20.0, -10.0, 5.0), (-35.0, 25.0, -40.0)])
def test_rotation_from_pose_inverts_pose_from_rotation(angles: tuple[float, float, float]) -> None:
    from viewfinder.faces.pose import HeadPose, frontalize, rotation_from_pose

    pose = HeadPose(*angles)
    back = pose_from_rotation(rotation_from_pose(pose))
    assert (back.yaw, back.pitch, back.roll) == pytest.approx(angles, abs=1e-9)
    # A head turned by the pose and frontalized again is the original head.
    head = HEAD_MODEL_MM - HEAD_MODEL_MM.mean(axis=0)
    turned = head @ rotation_from_pose(pose).T
    assert frontalize(turned, pose) == pytest.approx(head, abs=1e-9)
