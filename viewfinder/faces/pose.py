"""Head pose (yaw, pitch, roll in degrees) from the whole 468-point face mesh.

The mesh MediaPipe fits to the face (x, y in image pixels, z its relative depth on the same
scale) is matched to a mean frontal face mesh (``data/face_model.json``) by a similarity
transform (orthogonal Procrustes / Umeyama: rotation, uniform scale, shift; least squares over
all 468 points). Pitch is the elevation of the face's forward direction in the camera's frame
(how far the nose axis points down or up the picture), yaw its azimuth, roll the turn about
the face's own forward axis: the rotation is read as ``Ry(-yaw) @ Rx(pitch) @ Rz(-roll)``.
That reading of pitch is the camera's elevation over the face's line of sight whatever the
yaw; on headpose-dev it beat the head-frame reading (pitch first, then yaw, then roll) by
0.3 degrees of leave-one-person-out MAE and 1.5 points of camera-angle accuracy. The mesh is
fitted on a crop around the face, so the angles are relative to the ray from the camera to the
face. When the mesh of the mirrored crop is given too (:class:`viewfinder.faces.detect.FaceScan`),
the raw angles of both are averaged (the mirror's yaw and roll negated): MediaPipe's errors on
the two are partly independent, and the average cut leave-one-person-out pitch MAE by 0.1-0.2
(and raised camera-angle accuracy 1.1-1.6 points).

The mean mesh and the calibration are the project's own data, derived by
``bench/faces_calibrate.py`` from ``../shared/data/headpose-dev`` only (784 Pointing'04
photographs of 8 people; every photo and its mirrored face crop, generalized Procrustes mean,
oriented like the mean of the frontal tilt 0 / pan 0 photos, so that its zero point is a
person looking at a mark at their eye level). The raw Procrustes angles run short of the
labelled ones (people turn their eyes as well as their head: at tilt +-60 the head turns
about 30 degrees), so yaw and pitch are mapped through a monotone piecewise-linear
calibration whose knots are the median raw angle at each labelled angle of the dev set
(:func:`calibrate`; the median, not the mean, so that each labelled step's calibrated angles
centre on it in absolute error: leave-one-person-out pitch MAE 9.06 -> 8.94, camera-angle
accuracy 78.4% -> 80.2%). Beyond the end knots (yaw +-45, pitch +-60, the dev set's range) there
are no labels, so each further raw degree counts one degree (clipped to +-90). Roll has no
labels and is reported as fitted. Near zero the pitch calibration about doubles a raw angle
(raw about +7 -> 15, -6 -> -15), so a portrait whose head is bowed 8 degrees reads about 17.
Re-drawing a face as if its own mesh were turned by -30..30 degrees moves the raw pitch
by about as much (astronaut: -29, -20, -9, 8, 16, 25 for -30, -20, -10, 10, 20, 30).

Sign convention (image axes as displayed: x right, y down):

* ``yaw`` > 0: the nose points towards the image's right side (a horizontal flip negates it).
* ``pitch`` > 0: the face is seen from above (the camera is above the eyes, the nose points
  down in the picture); < 0: seen from below. This is the camera's elevation over the face.
* ``roll`` > 0: the face is turned counter-clockwise in the picture as the viewer sees it
  (the eye on the image's right side is higher).

What the angle cannot tell apart: it is the camera's direction relative to the head, so a
head bowed 30 degrees in an eye-level shot reads exactly like a level head under a camera
30 degrees above it (and a raised chin like a low camera); where the person is looking (their
eyes) is not used, because a subject looking into the lens would then always read eye-level.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

MESH_POINTS = 468  # the face mesh without the 10 iris points
MAX_ANGLE_DEG = 90.0


@dataclass(frozen=True)
class HeadPose:
    """Head rotation in degrees (see the module docstring for the signs)."""

    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True)
class FaceModel:
    """The mean frontal mesh (468 x 3, centred, unit RMS radius; x right, y down, z away) and
    the calibration knots: raw Procrustes angle -> calibrated angle, for yaw and pitch."""

    mesh: np.ndarray
    calibration: dict[str, tuple[np.ndarray, np.ndarray]]


@lru_cache(maxsize=1)
def face_model() -> FaceModel:
    """The shipped mean mesh and calibration (``viewfinder/faces/data/face_model.json``)."""
    text = resources.files("viewfinder.faces").joinpath("data", "face_model.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    calibration = {
        angle: (
            np.asarray(raw["calibration"][angle]["raw"], float),
            np.asarray(raw["calibration"][angle]["degrees"], float),
        )
        for angle in ("yaw", "pitch")
    }
    return FaceModel(np.asarray(raw["mesh"], dtype=np.float64), calibration)


def normalise(points: np.ndarray) -> np.ndarray:
    """Points moved to their centroid and scaled to unit root-mean-square radius."""
    centred = points - points.mean(axis=0)
    return centred / max(float(np.sqrt((centred**2).sum(axis=1).mean())), 1e-12)


def fit_rotation(model: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """The rotation R (3 x 3, det +1) of the least-squares similarity ``mesh ~ s R model + t``
    (Umeyama 1991); rows of both arrays are corresponding points."""
    a = model - model.mean(axis=0)
    b = mesh - mesh.mean(axis=0)
    u, _, vt = np.linalg.svd(b.T @ a)
    d = np.eye(3)
    d[2, 2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    return u @ d @ vt


def raw_head_pose(
    landmarks: np.ndarray, model: np.ndarray | None = None, mirrored: np.ndarray | None = None
) -> HeadPose:
    """Uncalibrated yaw, pitch and roll of mesh ``landmarks`` (N >= 468 x 3) fitted to ``model``
    (the shipped mean mesh by default), averaged with the mirror-image pose of ``mirrored`` (the
    mesh of the horizontally flipped crop, in its own flipped pixels) when given."""
    reference = face_model().mesh if model is None else model
    pose = pose_from_rotation(fit_rotation(reference, landmarks[:MESH_POINTS].astype(np.float64)))
    if mirrored is None:
        return pose
    flip = pose_from_rotation(fit_rotation(reference, mirrored[:MESH_POINTS].astype(np.float64)))
    return HeadPose(
        yaw=(pose.yaw - flip.yaw) / 2, pitch=(pose.pitch + flip.pitch) / 2, roll=(pose.roll - flip.roll) / 2
    )


def calibrate(angle: str, raw_deg: float) -> float:
    """A raw ``yaw`` or ``pitch`` through its piecewise-linear calibration (see the module)."""
    knots, degrees = face_model().calibration[angle]
    return through_knots(raw_deg, knots, degrees)


def through_knots(raw_deg: float, knots: np.ndarray, degrees: np.ndarray) -> float:
    """Piecewise-linear through (``knots``, ``degrees``), slope one beyond the ends, clipped to +-90."""
    if raw_deg < knots[0]:
        value = degrees[0] + (raw_deg - knots[0])
    elif raw_deg > knots[-1]:
        value = degrees[-1] + (raw_deg - knots[-1])
    else:
        value = float(np.interp(raw_deg, knots, degrees))
    return float(max(-MAX_ANGLE_DEG, min(MAX_ANGLE_DEG, value)))


def head_pose(landmarks: np.ndarray, mirrored: np.ndarray | None = None) -> HeadPose | None:
    """Calibrated head pose of 3-D mesh ``landmarks`` (478 or 468 x 3, image pixels and depth),
    averaged with the mirrored crop's mesh when given (a degenerate one is ignored); None when
    ``landmarks`` is degenerate."""
    if not _usable(landmarks):
        return None
    raw = raw_head_pose(landmarks, mirrored=mirrored if mirrored is not None and _usable(mirrored) else None)
    return HeadPose(yaw=calibrate("yaw", raw.yaw), pitch=calibrate("pitch", raw.pitch), roll=raw.roll)


def _usable(mesh: np.ndarray) -> bool:
    if mesh.shape[0] < MESH_POINTS or mesh.shape[1] < 3 or not np.isfinite(mesh).all():
        return False
    return float(np.ptp(mesh[:MESH_POINTS, :2], axis=0).min()) > 0.0


def pose_from_rotation(rotation: np.ndarray) -> HeadPose:
    """Yaw, pitch and roll of a head-to-camera rotation matrix (camera axes: x right, y down,
    z forward), decomposed as ``R = Ry(-yaw) @ Rx(pitch) @ Rz(-roll)``: roll turns the head
    about its own forward axis, pitch then tips that axis up or down about the camera's
    horizontal, and yaw swings it about the camera's vertical, so pitch is the forward axis's
    elevation in the camera frame (``asin`` of its downward component)."""
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, -float(rotation[1, 2])))))
    yaw = -math.degrees(math.atan2(float(rotation[0, 2]), float(rotation[2, 2])))
    roll = -math.degrees(math.atan2(float(rotation[1, 0]), float(rotation[1, 1])))
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll)


def rotation_from_pose(pose: HeadPose) -> np.ndarray:
    """The rotation matrix ``Ry(-yaw) @ Rx(pitch) @ Rz(-roll)`` (inverse of :func:`pose_from_rotation`)."""
    a, b, c = math.radians(pose.pitch), math.radians(-pose.yaw), math.radians(-pose.roll)
    rx = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(a), -math.sin(a)], [0.0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0.0, math.sin(b)], [0.0, 1.0, 0.0], [-math.sin(b), 0.0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0.0], [math.sin(c), math.cos(c), 0.0], [0.0, 0.0, 1.0]])
    return ry @ rx @ rz
