"""Canonical vocabularies shared by the study, the judges and the faces analyzer.

A camera position in a prompt names an angle, a shot size, or both ("low-angle close-up").
Synonyms map onto one canonical term so that every judge answers in the same words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

CAMERA_ANGLES: tuple[str, ...] = (
    "eye-level",
    "high-angle",
    "low-angle",
    "bird's-eye",
    "worm's-eye",
    "dutch",
)
SHOT_SIZES: tuple[str, ...] = ("extreme close-up", "close-up", "medium", "wide")

# Answers that mean "could not be judged": counted apart by scoring, never as failures.
NO_FACE = "no face"
UNCLEAR = "unclear"

EXPRESSIONS: tuple[str, ...] = (
    "neutral",
    "happiness",
    "sadness",
    "surprise",
    "fear",
    "disgust",
    "anger",
    "contempt",
)

_ANGLE_SYNONYMS: dict[str, str] = {
    "eye-level": "eye-level",
    "eye level": "eye-level",
    "eye-level shot": "eye-level",
    "straight-on": "eye-level",
    "neutral angle": "eye-level",
    "high-angle": "high-angle",
    "high angle": "high-angle",
    "from above": "high-angle",
    "looking down": "high-angle",
    "low-angle": "low-angle",
    "low angle": "low-angle",
    "from below": "low-angle",
    "looking up": "low-angle",
    "bird's-eye": "bird's-eye",
    "bird's eye": "bird's-eye",
    "birds-eye": "bird's-eye",
    "birds eye": "bird's-eye",
    "bird's-eye view": "bird's-eye",
    "overhead": "bird's-eye",
    "top-down": "bird's-eye",
    "top down": "bird's-eye",
    "worm's-eye": "worm's-eye",
    "worm's eye": "worm's-eye",
    "worms-eye": "worm's-eye",
    "worms eye": "worm's-eye",
    "worm's-eye view": "worm's-eye",
    "dutch": "dutch",
    "dutch angle": "dutch",
    "dutch tilt": "dutch",
    "canted": "dutch",
    "canted angle": "dutch",
    "tilted": "dutch",
}
_SHOT_SYNONYMS: dict[str, str] = {
    "extreme close-up": "extreme close-up",
    "extreme close up": "extreme close-up",
    "extreme closeup": "extreme close-up",
    "ecu": "extreme close-up",
    "close-up": "close-up",
    "close up": "close-up",
    "closeup": "close-up",
    "headshot": "close-up",
    "medium": "medium",
    "medium shot": "medium",
    "mid shot": "medium",
    "waist-up": "medium",
    "half-body": "medium",
    "wide": "wide",
    "wide shot": "wide",
    "long shot": "wide",
    "full shot": "wide",
    "full body": "wide",
    "establishing shot": "wide",
}
_EXPRESSION_SYNONYMS: dict[str, str] = {
    "happy": "happiness",
    "joy": "happiness",
    "smile": "happiness",
    "sad": "sadness",
    "surprised": "surprise",
    "afraid": "fear",
    "fearful": "fear",
    "scared": "fear",
    "disgusted": "disgust",
    "angry": "anger",
    "contemptuous": "contempt",
    "calm": "neutral",
    "no expression": "neutral",
}


@dataclass(frozen=True)
class CameraPosition:
    """A camera position in canonical words; either part may be absent."""

    angle: str | None
    shot_size: str | None

    @property
    def label(self) -> str:
        return " ".join(part for part in (self.angle, self.shot_size) if part)


def _normalise(text: str) -> str:
    text = text.strip().lower().replace("\u2019", "'")
    return re.sub(r"\s+", " ", text)


def canonical_angle(text: str) -> str | None:
    """The canonical angle for ``text`` or None when it names none."""
    return _ANGLE_SYNONYMS.get(_normalise(text))


def canonical_shot_size(text: str) -> str | None:
    """The canonical shot size for ``text`` or None when it names none."""
    return _SHOT_SYNONYMS.get(_normalise(text))


def canonical_expression(text: str) -> str | None:
    """The canonical facial expression for ``text`` or None when it is not one."""
    norm = _normalise(text)
    if norm in EXPRESSIONS:
        return norm
    return _EXPRESSION_SYNONYMS.get(norm)


CANONICAL_READERS: dict[str, Callable[[str], str | None]] = {  # prompt/label field -> its synonym reader
    "camera_angle": canonical_angle,
    "shot_size": canonical_shot_size,
    "expression": canonical_expression,
}


def parse_camera(text: str) -> CameraPosition | None:
    """Read an angle and/or a shot size from ``text``; None when it names neither.

    Accepts "eye-level", "close-up", "low-angle close-up", "low angle, wide shot", ...
    The longest synonyms are matched first so "extreme close-up" is not read as "close-up".
    """
    norm = _normalise(text)
    angle = shot = None
    rest = norm
    for table, kind in ((_SHOT_SYNONYMS, "shot"), (_ANGLE_SYNONYMS, "angle")):
        for synonym in sorted(table, key=len, reverse=True):
            pattern = r"(?<![\w'-])" + re.escape(synonym) + r"(?![\w'-])"
            match = re.search(pattern, rest)
            if match:
                if kind == "shot":
                    shot = table[synonym]
                else:
                    angle = table[synonym]
                rest = rest[: match.start()] + " " + rest[match.end() :]
                break
    leftover = re.sub(r"[\s,;/+&-]|\band\b|\bshot\b|\bview\b|\bcamera\b", "", rest)
    if (angle is None and shot is None) or leftover:
        return None
    return CameraPosition(angle=angle, shot_size=shot)


def camera_help() -> str:
    """One line listing the accepted canonical camera words."""
    return "angles: " + ", ".join(CAMERA_ANGLES) + "; shot sizes: " + ", ".join(SHOT_SIZES)
