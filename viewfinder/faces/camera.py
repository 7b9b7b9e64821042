"""Camera angle and shot size from face geometry, in the canonical camera vocabulary.

Angle (from the head ``pitch`` of :mod:`viewfinder.faces.pose`, degrees, positive when the
camera is above the face, i.e. the face is seen from above). The classes are defined on the
true angle (:func:`angle_class`: eye-level within +-15 degrees inclusive, high/low beyond,
bird's/worm's-eye beyond 45), which is how headpose-dev's labels read; the limits the
estimate is cut at are the estimator's calibrated decision points, the midpoints between the
calibrated pitch of neighbouring labelled steps of different classes (15 and 30 -> 22.5; 30
and 60 -> 45; ``bench/faces_calibrate.py`` prints the midpoints of the steps' median calibrated
pitch as a check). Labelled tilt +-15 is eye-level and its photos' calibrated pitch centres on
+-15, so cutting at 15 called half of them high or low: on headpose-dev, leave one person out,
cutting at 22.5 instead of 15 raised camera-angle accuracy from 75.0% to 80.2%; limits chosen
per fold (accuracy-maximising: 78.7%; Gaussian class densities crossing: 78.3%) did worse:

============================  ===============
estimated pitch               angle
============================  ===============
``pitch > +45``               ``bird's-eye``
``+22.5 < pitch <= +45``      ``high-angle``
``-22.5 <= pitch <= +22.5``   ``eye-level``
``-45 <= pitch < -22.5``      ``low-angle``
``pitch < -45``               ``worm's-eye``
============================  ===============

Tie-breaker: within ``TIE_BAND_DEG`` (3 degrees) of the eye-level decision limits the face's vertical
place in the frame decides, since a face high in the frame is seen through a ray that rises
from the camera (the camera is below it) and a face low in the frame through a falling one:
a face centre in the top third leans low-angle, in the bottom third high-angle, elsewhere the
plain thresholds apply. The rule reads the camera relative to the head, so a person looking
down at their phone in an eye-level shot reads as high-angle: geometry cannot tell the two
apart, which is why the report shows it next to the judge's answer. Dutch (a rolled camera)
is not inferred: a tilted head looks the same.

Shot size from the face's height (forehead to chin) over the image height: above 0.5
``extreme close-up``, above 0.25 ``close-up``, above 0.1 ``medium``, otherwise ``wide``.
"""

from __future__ import annotations

import math

CLASS_EYE_LEVEL_DEG = 15.0  # the class definition: true pitch within +-15 is eye-level
CLASS_EXTREME_DEG = 45.0
EYE_LEVEL_LIMIT_DEG = 22.5  # the estimator's decision points (module docstring)
EXTREME_LIMIT_DEG = 45.0
TIE_BAND_DEG = 3.0
SHOT_SIZE_LIMITS: tuple[tuple[float, str], ...] = (
    (0.5, "extreme close-up"),
    (0.25, "close-up"),
    (0.1, "medium"),
)


def camera_angle(pitch_deg: float, face_centre_y: float | None = None) -> str:
    """The canonical angle for a head ``pitch_deg`` (see the module table).

    ``face_centre_y`` is the face centre's height in the frame as a share of the image
    height (0 top, 1 bottom); it only breaks ties near the eye-level limits.
    """
    pitch = pitch_deg
    if face_centre_y is not None and abs(abs(pitch) - EYE_LEVEL_LIMIT_DEG) <= TIE_BAND_DEG:
        leans_low = face_centre_y < 1 / 3
        leans_high = face_centre_y > 2 / 3
        if leans_low or leans_high:
            # On the side the frame position agrees with, the band counts as outside the
            # limit; on the other side it counts as eye-level.
            agrees = (pitch < 0) == leans_low
            return _angle(math.copysign(EYE_LEVEL_LIMIT_DEG + TIE_BAND_DEG, pitch) if agrees else 0.0)
    return _angle(pitch)


def angle_class(pitch_deg: float) -> str:
    """The class a true (labelled) pitch belongs to: eye-level within +-15 degrees inclusive,
    high/low-angle beyond, bird's/worm's-eye beyond 45."""
    return _angle(pitch_deg, CLASS_EYE_LEVEL_DEG, CLASS_EXTREME_DEG)


def _angle(pitch: float, eye_level: float = EYE_LEVEL_LIMIT_DEG, extreme: float = EXTREME_LIMIT_DEG) -> str:
    if pitch > extreme:
        return "bird's-eye"
    if pitch > eye_level:
        return "high-angle"
    if pitch < -extreme:
        return "worm's-eye"
    if pitch < -eye_level:
        return "low-angle"
    return "eye-level"


def shot_size(face_height_ratio: float) -> str:
    """The canonical shot size for a face ``face_height_ratio`` = face height / image height."""
    for limit, name in SHOT_SIZE_LIMITS:
        if face_height_ratio > limit:
            return name
    return "wide"
