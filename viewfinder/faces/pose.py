"""Head pose (yaw, pitch, roll in degrees) from face-mesh landmarks with ``cv2.solvePnP``.

A generic six-point head (nose tip, chin, outer eye corners, mouth corners; millimetres,
a common anthropometric approximation) is fitted to the matching MediaPipe mesh points
with a pinhole camera whose principal point is the face centre and whose focal length is
the image's longer side, so the angles are relative to the ray from the camera to the face.
Pitch is shifted by a documented zero point (``PITCH_ZERO_DEG``); typical spread on one
face is a few degrees (a horizontally flipped portrait moves yaw by up to ~5 degrees).

Sign convention (image axes as displayed: x right, y down):

* ``yaw`` > 0: the nose points towards the image's right side (a horizontal flip negates it).
* ``pitch`` > 0: the face is seen from above (the camera is above the eyes, the nose points
  down in the picture); < 0: seen from below. This is the camera's elevation over the face.
* ``roll`` > 0: the face is turned counter-clockwise in the picture as the viewer sees it
  (the eye on the image's right side is higher).

The head frame uses the same axes as the camera for a face looking straight into the lens
(x to the image's right, y down, z away from the viewer), so a frontal face gives all zeros.
The rotation is split as pitch, then yaw, then roll about the line of sight
(:func:`pose_from_rotation`), so turning the picture in its plane moves roll alone: on the
scikit-image astronaut turned by -40..40 degrees roll follows within 0.3 degrees on average
while yaw and pitch stay within about 4 degrees of the upright values.
Re-drawing a face as if its own 3-D mesh were turned by -30, -20, -10, 10, 20, 30 degrees
moves pitch by -37, -23, -10, 6, 13, 20 (astronaut; Grace Hopper -27, -13, -6, 8, 14, 20)
and yaw by -31, -22, -13, 16, 30, 38 (astronaut): right in sign, under-reading faces seen
from above by about a third.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# MediaPipe face-mesh indices and the generic head they are fitted to (x right, y down,
# z away from the camera, origin at the nose tip).
POSE_LANDMARKS: tuple[int, ...] = (1, 152, 33, 263, 61, 291)
HEAD_MODEL_MM = np.array(
    [
        (0.0, 0.0, 0.0),  # 1 nose tip
        (0.0, 330.0, 65.0),  # 152 chin
        (-225.0, -170.0, 135.0),  # 33 outer corner of the eye on the image's left
        (225.0, -170.0, 135.0),  # 263 outer corner of the eye on the image's right
        (-150.0, 150.0, 125.0),  # 61 mouth corner on the image's left
        (150.0, 150.0, 125.0),  # 291 mouth corner on the image's right
    ],
    dtype=np.float64,
) / 10.0
# The generic head reads eye-level portraits (scikit-image's astronaut: 20.7 degrees,
# matplotlib's Grace Hopper: 10.5) as seen from above, because MediaPipe places the nose
# tip lower between the eyes and the mouth than the generic head does; this zero point
# (their mean, rounded) is subtracted from every pitch.
PITCH_ZERO_DEG = 15.0
NO_DISTORTION = np.zeros((4, 1))  # a pinhole camera: what solvePnP assumes for distCoeffs=None


@dataclass(frozen=True)
class HeadPose:
    """Head rotation in degrees (see the module docstring for the signs)."""

    yaw: float
    pitch: float
    roll: float


def head_pose(landmarks_px: np.ndarray, image_size: tuple[int, int]) -> HeadPose | None:
    """Fit the generic head to mesh ``landmarks_px`` (N x 2 or N x 3, image pixels).

    ``image_size`` is (width, height). The fit starts from a frontal head at the distance
    its eye width implies, which keeps solvePnP away from the mirrored (upside-down)
    solution. Returns None when the fit fails.
    """
    points = np.ascontiguousarray(landmarks_px[list(POSE_LANDMARKS), :2], dtype=np.float64)
    centre = points.mean(axis=0)
    focal = float(max(image_size))
    camera = np.array([[focal, 0.0, centre[0]], [0.0, focal, centre[1]], [0.0, 0.0, 1.0]])
    eye_width_px = max(float(np.linalg.norm(points[3] - points[2])), 1.0)
    model_eye_width = float(HEAD_MODEL_MM[3, 0] - HEAD_MODEL_MM[2, 0])
    rvec = np.zeros((3, 1))
    tvec = np.array([[0.0], [0.0], [focal * model_eye_width / eye_width_px]])
    ok, fitted, _ = cv2.solvePnP(
        HEAD_MODEL_MM, points, camera, NO_DISTORTION, rvec, tvec, True, cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return None
    rotation, _ = cv2.Rodrigues(fitted)
    raw = pose_from_rotation(rotation)
    return HeadPose(yaw=raw.yaw, pitch=raw.pitch - PITCH_ZERO_DEG, roll=raw.roll)


def pose_from_rotation(rotation: np.ndarray) -> HeadPose:
    """Yaw, pitch and roll of a head-to-camera rotation matrix (camera axes: x right, y down,
    z forward), decomposed as ``R = Rz(-roll) @ Ry(-yaw) @ Rx(pitch)``: pitch turns the head
    about its ear-to-ear axis, yaw then about the vertical, and roll last about the line of
    sight, so turning the picture in its plane changes roll alone."""
    yaw = -math.degrees(math.asin(max(-1.0, min(1.0, -float(rotation[2, 0])))))
    pitch = math.degrees(math.atan2(float(rotation[2, 1]), float(rotation[2, 2])))
    roll = -math.degrees(math.atan2(float(rotation[1, 0]), float(rotation[0, 0])))
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll)


def rotation_from_pose(pose: HeadPose) -> np.ndarray:
    """The rotation matrix ``Rz(-roll) @ Ry(-yaw) @ Rx(pitch)`` (inverse of :func:`pose_from_rotation`)."""
    a, b, c = math.radians(pose.pitch), math.radians(-pose.yaw), math.radians(-pose.roll)
    rx = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(a), -math.sin(a)], [0.0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0.0, math.sin(b)], [0.0, 1.0, 0.0], [-math.sin(b), 0.0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0.0], [math.sin(c), math.cos(c), 0.0], [0.0, 0.0, 1.0]])
    return rz @ ry @ rx


def frontalize(landmarks: np.ndarray, pose: HeadPose) -> np.ndarray:
    """3-D mesh landmarks (N x 3) turned about their centroid by the inverse of ``pose``, so
    the face looks straight into the camera (orthographic; uses the mesh's own depth)."""
    centre = landmarks.mean(axis=0)
    return (landmarks - centre) @ rotation_from_pose(pose) + centre
