"""A landmark-based expression estimate that needs no download (a heuristic, not a model).

Seven measurements of the face mesh, each normalised by face size (horizontal ones by the
distance between the outer eye corners, vertical ones by the forehead-to-chin height, after
turning the face upright by its roll) and taken relative to a typical neutral face. The
analyzer passes the mesh turned to face the camera (:func:`viewfinder.faces.pose.frontalize`):
on the raw projection a face seen from below reads as surprise and one seen from above as
happiness, which would tie the expression to the camera angle.

* ``smile``: how far the mouth corners sit above the centre of the lips (negative: below).
* ``mouth_width``: mouth width over eye width, minus the neutral width.
* ``mouth_open``: gap between the inner lips.
* ``eye_open``: eyelid gap over eye width, minus the neutral opening.
* ``brow_raise``: brow height above the upper eyelid, minus the neutral height.
* ``brow_squeeze``: how much closer the inner brow ends are than in a neutral face.
* ``asymmetry``: height difference between the two mouth corners, counted only when the
  face is roughly frontal (the two eye widths within ``FRONTAL_EYE_RATIO``): a turned head
  makes even a level mouth look lopsided.

Each expression gets a linear score of these (``WEIGHTS``, e.g. happiness = smile + wide
mouth; surprise = raised brows + open eyes + open mouth), neutral a constant, and a softmax
with ``TEMPERATURE`` turns the scores into probabilities. It reads obvious expressions
(a broad smile, wide-open surprise) and little else; the report says so, and a hub image
classifier (:mod:`viewfinder.analyze.analyzers.expression_model`) can replace it.
"""

from __future__ import annotations

import math

import numpy as np

from viewfinder.study.vocabulary import EXPRESSIONS

# MediaPipe face-mesh indices (the subject's right side appears on the image's left).
EYE_OUTER = (33, 263)
EYE_INNER = (133, 362)
LID_UPPER = (159, 386)
LID_LOWER = (145, 374)
BROW_MID = (105, 334)
BROW_INNER = (55, 285)
MOUTH_CORNERS = (61, 291)
LIP_INNER_UPPER, LIP_INNER_LOWER = 13, 14
FOREHEAD, CHIN = 10, 152

# Neutral values of the raw ratios, set by hand for a frontal, relaxed face; the near-neutral
# portrait of Grace Hopper in matplotlib's sample data measures 0.57, 0.27, 0.093 and 0.28.
NEUTRAL = {"mouth_width": 0.50, "eye_open": 0.30, "brow_raise": 0.085, "brow_gap": 0.28}
# Score of each expression = sum(weight * feature); neutral is a constant.
WEIGHTS: dict[str, dict[str, float]] = {
    "happiness": {"smile": 60.0, "mouth_width": 8.0},
    "sadness": {"smile": -60.0, "mouth_width": -4.0},
    "surprise": {"mouth_open": 25.0, "brow_raise": 60.0, "eye_open": 6.0},
    "fear": {"eye_open": 8.0, "brow_raise": 30.0, "mouth_width": 6.0, "smile": -30.0},
    "disgust": {"eye_open": -6.0, "brow_squeeze": 6.0, "smile": -30.0},
    "anger": {"brow_squeeze": 15.0, "brow_raise": -80.0, "eye_open": -4.0},
    "contempt": {"asymmetry": 120.0},
}
NEUTRAL_SCORE = 2.5
FRONTAL_EYE_RATIO = 0.7
TEMPERATURE = 1.0


def _upright(points: np.ndarray) -> np.ndarray:
    """2-D landmarks rotated so that the line through the outer eye corners is horizontal."""
    xy = points[:, :2]
    eye_line = xy[EYE_OUTER[1]] - xy[EYE_OUTER[0]]
    angle = math.atan2(eye_line[1], eye_line[0])
    cos, sin = math.cos(-angle), math.sin(-angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    return (xy - xy[EYE_OUTER[0]]) @ rotation.T


def expression_features(landmarks: np.ndarray) -> dict[str, float]:
    """The seven normalised measurements above for 478 (or 468) mesh landmarks."""
    p = _upright(landmarks)
    eye_width = max(float(np.linalg.norm(p[EYE_OUTER[1]] - p[EYE_OUTER[0]])), 1e-6)
    face_height = max(float(p[CHIN, 1] - p[FOREHEAD, 1]), 1e-6)
    lip_centre_y = (p[LIP_INNER_UPPER, 1] + p[LIP_INNER_LOWER, 1]) / 2
    corner_lift = [(lip_centre_y - p[i, 1]) / face_height for i in MOUTH_CORNERS]
    eye_widths = [max(abs(p[EYE_INNER[k], 0] - p[EYE_OUTER[k], 0]), 1e-6) for k in (0, 1)]
    eye_open = [abs(p[LID_LOWER[k], 1] - p[LID_UPPER[k], 1]) / eye_widths[k] for k in (0, 1)]
    frontal = min(eye_widths) / max(eye_widths) >= FRONTAL_EYE_RATIO
    brow_raise = [(p[LID_UPPER[k], 1] - p[BROW_MID[k], 1]) / face_height for k in (0, 1)]
    brow_gap = abs(p[BROW_INNER[1], 0] - p[BROW_INNER[0], 0]) / eye_width
    return {
        "smile": float(np.mean(corner_lift)),
        "mouth_width": abs(p[MOUTH_CORNERS[1], 0] - p[MOUTH_CORNERS[0], 0]) / eye_width - NEUTRAL["mouth_width"],
        "mouth_open": max(0.0, (p[LIP_INNER_LOWER, 1] - p[LIP_INNER_UPPER, 1]) / face_height),
        "eye_open": float(np.mean(eye_open)) - NEUTRAL["eye_open"],
        "brow_raise": float(np.mean(brow_raise)) - NEUTRAL["brow_raise"],
        "brow_squeeze": NEUTRAL["brow_gap"] - brow_gap,
        "asymmetry": abs(corner_lift[0] - corner_lift[1]) if frontal else 0.0,
    }


def expression_scores(features: dict[str, float]) -> dict[str, float]:
    """The linear score of each expression (neutral: a constant)."""
    scores = {"neutral": NEUTRAL_SCORE}
    for expression, weights in WEIGHTS.items():
        scores[expression] = sum(weight * features[name] for name, weight in weights.items())
    return scores


def landmark_expression(landmarks: np.ndarray) -> dict[str, float]:
    """Probabilities over :data:`viewfinder.study.vocabulary.EXPRESSIONS` (they sum to 1)."""
    scores = expression_scores(expression_features(landmarks))
    values = np.array([scores[name] for name in EXPRESSIONS]) / TEMPERATURE
    values = np.exp(values - values.max())
    values /= values.sum()
    return {name: float(value) for name, value in zip(EXPRESSIONS, values, strict=True)}
