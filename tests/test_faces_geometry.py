"""Faces: camera rules, and the mesh head-pose fit on the mean mesh turned by known angles."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from viewfinder.faces.camera import angle_class, camera_angle, shot_size
from viewfinder.faces.pose import (
    HeadPose,
    calibrate,
    face_model,
    head_pose,
    pose_from_rotation,
    raw_head_pose,
    rotation_from_pose,
)
from viewfinder.study.vocabulary import CAMERA_ANGLES, SHOT_SIZES


# -- camera angle and shot size rules ---------------------------------------------------------
# The estimate is cut at the calibrated decision points 22.5 and 45 (midpoints between the
# labelled steps 15 | 30 and 30 | 60 of headpose-dev); the classes themselves are defined on the
# true angle with the +-15 / 45 limits (angle_class), which is how the labels read.
@pytest.mark.parametrize(
    ("pitch", "expected"),
    [
        (0.0, "eye-level"),
        (22.4, "eye-level"),
        (-22.5, "eye-level"),
        (22.6, "high-angle"),
        (45.0, "high-angle"),
        (45.1, "bird's-eye"),
        (80.0, "bird's-eye"),
        (-22.6, "low-angle"),
        (-45.0, "low-angle"),
        (-60.0, "worm's-eye"),
    ],
)
def test_camera_angle_thresholds(pitch: float, expected: str) -> None:
    assert camera_angle(pitch) == expected
    assert expected in CAMERA_ANGLES


@pytest.mark.parametrize(
    ("pitch", "expected"),
    [
        (0.0, "eye-level"),
        (15.0, "eye-level"),
        (-15.0, "eye-level"),
        (15.1, "high-angle"),
        (-15.1, "low-angle"),
        (30.0, "high-angle"),
        (45.1, "bird's-eye"),
        (-60.0, "worm's-eye"),
    ],
)
def test_the_class_definition_keeps_the_15_degree_limit(pitch: float, expected: str) -> None:
    assert angle_class(pitch) == expected


def test_frame_position_breaks_ties_only_near_the_eye_level_limits() -> None:
    # Within 3 degrees of -22.5: a face high in the frame (camera below it) reads low-angle,
    # a face low in the frame eye-level; the middle third keeps the plain threshold.
    assert camera_angle(-20.5, face_centre_y=0.2) == "low-angle"
    assert camera_angle(-20.5, face_centre_y=0.5) == "eye-level"
    assert camera_angle(-23.5, face_centre_y=0.9) == "eye-level"
    assert camera_angle(20.5, face_centre_y=0.9) == "high-angle"
    assert camera_angle(23.5, face_centre_y=0.1) == "eye-level"
    assert camera_angle(23.5, face_centre_y=0.5) == "high-angle"
    # Far from the limits the frame position changes nothing.
    assert camera_angle(0.0, face_centre_y=0.05) == "eye-level"
    assert camera_angle(30.0, face_centre_y=0.05) == "high-angle"
    assert camera_angle(-50.0, face_centre_y=0.95) == "worm's-eye"


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        (0.8, "extreme close-up"),
        (0.51, "extreme close-up"),
        (0.5, "close-up"),
        (0.3, "close-up"),
        (0.25, "medium"),
        (0.11, "medium"),
        (0.1, "wide"),
        (0.02, "wide"),
    ],
)
def test_shot_size_from_face_height(ratio: float, expected: str) -> None:
    assert shot_size(ratio) == expected
    assert expected in SHOT_SIZES


# -- head pose: the mean mesh turned by a known rotation, read back ----------------------------
def _turned_mesh(yaw: float, pitch: float, roll: float, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """478 x 3 landmarks: the shipped mean mesh turned by the pose, scaled to pixels and moved
    into a 1024-pixel image, with Gaussian noise of ``noise`` pixels (the iris points copy the eyes)."""
    mesh = face_model().mesh @ rotation_from_pose(HeadPose(yaw, pitch, roll)).T
    points = mesh * 120.0 + np.array([512.0, 400.0, 0.0])
    points += np.random.default_rng(seed).normal(0.0, noise, points.shape)
    return np.vstack([points, points[[33, 133, 159, 145, 0, 263, 362, 386, 374, 1]]])


@pytest.mark.parametrize(
    "angles",
    [
        (0.0, 0.0, 0.0),
        (30.0, 0.0, 0.0),
        (-40.0, 10.0, 0.0),
        (0.0, 25.0, 0.0),
        (0.0, -35.0, 5.0),
        (20.0, -15.0, -30.0),
        (-10.0, 40.0, 12.0),
    ],
)
def test_the_fit_recovers_the_rotation_of_a_turned_mean_mesh(angles: tuple[float, float, float]) -> None:
    exact = raw_head_pose(_turned_mesh(*angles))
    assert (exact.yaw, exact.pitch, exact.roll) == pytest.approx(angles, abs=1e-6)
    # Mesh noise of 1.5 pixels on a face 240 pixels high moves the angles by well under a degree.
    noisy = raw_head_pose(_turned_mesh(*angles, noise=1.5, seed=7))
    assert (noisy.yaw, noisy.pitch, noisy.roll) == pytest.approx(angles, abs=1.0)


def test_the_mean_mesh_is_a_frontal_face_in_image_axes() -> None:
    mesh = face_model().mesh
    assert mesh.shape == (468, 3)
    assert np.allclose(mesh.mean(axis=0), 0.0, atol=1e-3)
    assert mesh[263, 0] > mesh[33, 0]  # the outer eye corner 263 is on the image's right
    assert mesh[152, 1] > mesh[1, 1] > mesh[10, 1]  # forehead, nose tip, chin from the top down
    assert mesh[1, 2] < mesh[:, 2].mean() - 0.3  # the nose tip is nearest the viewer (z away)
    assert abs(mesh[1, 0]) < 0.02  # left-right symmetric: the nose tip on the centre line


@pytest.mark.parametrize("degrees", [-40.0, -20.0, 10.0, 30.0])
def test_yaw_is_positive_with_the_nose_towards_the_image_right(degrees: float) -> None:
    mesh = _turned_mesh(degrees, 0.0, 0.0)
    assert np.sign(mesh[1, 0] - 512.0) == np.sign(degrees)  # the nose tip moved to that side
    assert raw_head_pose(mesh).yaw == pytest.approx(degrees, abs=1e-6)


@pytest.mark.parametrize("degrees", [-40.0, -15.0, 20.0, 35.0])
def test_pitch_is_positive_when_the_face_is_seen_from_above(degrees: float) -> None:
    # Seen from above, the nose tip drops towards the mouth in the picture.
    base, mesh = _turned_mesh(0.0, 0.0, 0.0), _turned_mesh(0.0, degrees, 0.0)
    assert np.sign((mesh[1, 1] - mesh[10, 1]) - (base[1, 1] - base[10, 1])) == np.sign(degrees)
    pose = head_pose(mesh)
    assert pose is not None and np.sign(pose.pitch - head_pose(base).pitch) == np.sign(degrees)


@pytest.mark.parametrize("degrees", [-30.0, -5.0, 12.0, 45.0])
def test_roll_is_positive_counter_clockwise_in_the_picture(degrees: float) -> None:
    mesh = _turned_mesh(0.0, 0.0, degrees)
    assert np.sign(mesh[33, 1] - mesh[263, 1]) == np.sign(degrees)  # the eye on the image's right is higher
    assert head_pose(mesh).roll == pytest.approx(degrees, abs=1e-6)


def test_the_calibration_maps_its_knots_and_extends_with_slope_one() -> None:
    for angle in ("yaw", "pitch"):
        knots, degrees = face_model().calibration[angle]
        assert np.all(np.diff(knots) > 0) and np.all(np.diff(degrees) > 0)
        assert [calibrate(angle, k) for k in knots] == pytest.approx(list(degrees))
        assert calibrate(angle, knots[-1] + 7.0) == pytest.approx(degrees[-1] + 7.0)
        assert calibrate(angle, knots[0] - 3.0) == pytest.approx(degrees[0] - 3.0)
        assert calibrate(angle, 500.0) == 90.0 and calibrate(angle, -500.0) == -90.0
    # The zero point: a head turned by the frontal photos' raw angles reads straight on.
    zero = {
        angle: float(np.interp(0.0, face_model().calibration[angle][1], face_model().calibration[angle][0]))
        for angle in ("yaw", "pitch")
    }
    pose = head_pose(_turned_mesh(zero["yaw"], zero["pitch"], 0.0))
    assert pose is not None and (pose.yaw, pose.pitch) == pytest.approx((0.0, 0.0), abs=1e-6)


def test_the_mirrored_crops_pose_is_averaged_in_with_its_yaw_and_roll_negated() -> None:
    # The mirrored crop of a face turned (yaw, pitch, roll) shows one turned (-yaw, pitch, -roll);
    # where MediaPipe reads the two differently, the raw angles meet halfway.
    pose = raw_head_pose(_turned_mesh(10.0, 20.0, 4.0), mirrored=_turned_mesh(-14.0, 24.0, -2.0))
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((12.0, 22.0, 3.0), abs=1e-6)
    alone = head_pose(_turned_mesh(10.0, 20.0, 4.0))
    # A degenerate mirrored mesh is ignored rather than spoiling the pose.
    assert head_pose(_turned_mesh(10.0, 20.0, 4.0), np.zeros((478, 3))) == alone


def test_a_degenerate_mesh_has_no_pose() -> None:
    assert head_pose(np.zeros((478, 3))) is None
    assert head_pose(np.full((478, 3), np.nan)) is None
    assert head_pose(np.ones((100, 3))) is None


def test_pose_from_rotation_matches_the_axes() -> None:
    identity = pose_from_rotation(np.eye(3))
    assert (identity.yaw, identity.pitch, identity.roll) == pytest.approx((0.0, 0.0, 0.0))
    rotation, _ = cv2.Rodrigues(np.array([0.0, math.radians(-25.0), 0.0]))
    assert pose_from_rotation(rotation).yaw == pytest.approx(25.0)


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
    back = pose_from_rotation(rotation_from_pose(HeadPose(*angles)))
    assert (back.yaw, back.pitch, back.roll) == pytest.approx(angles, abs=1e-9)
