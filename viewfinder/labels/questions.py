"""The canonical questions people answer about an image, and the canonical answers to each.

The answers are the words the judges and the faces analyzer answer in
(:mod:`viewfinder.study.vocabulary`), so a person's label compares with a method's answer
directly. Synonyms ("low angle", "happy", "y") are accepted from a labels file and stored as
the canonical word.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from viewfinder.store.labels import LABEL_DIMENSIONS
from viewfinder.study.vocabulary import CAMERA_ANGLES, CANONICAL_READERS, EXPRESSIONS, NO_FACE, SHOT_SIZES, UNCLEAR

YES, NO = "yes", "no"


@dataclass(frozen=True)
class Question:
    """One question of the review page; ``answers`` in the order of their keys 1-9, 0."""

    dimension: str
    text: str
    answers: tuple[str, ...]
    about: str = ""  # the prompt field shown with the question ("scene", "style"), if any


QUESTIONS: tuple[Question, ...] = (
    Question("camera_angle", "Where is the camera, relative to the main subject?", (*CAMERA_ANGLES, UNCLEAR)),
    Question("shot_size", "How much of the subject does the frame show?", (*SHOT_SIZES, UNCLEAR)),
    Question("expression", "Which expression does the main face show?", (*EXPRESSIONS, NO_FACE, UNCLEAR)),
    Question("scene_match", "Does the image show this scene?", (YES, NO, UNCLEAR), about="scene"),
    Question("style_match", "Is the image in this style?", (YES, NO, UNCLEAR), about="style"),
)
assert tuple(q.dimension for q in QUESTIONS) == LABEL_DIMENSIONS

_YES_NO = {"yes": YES, "y": YES, "true": YES, "1": YES, "match": YES, "no": NO, "n": NO, "false": NO, "0": NO}
_READERS: dict[str, Callable[[str], str | None]] = {
    **CANONICAL_READERS,
    "scene_match": lambda text: _YES_NO.get(text.strip().lower()),
    "style_match": lambda text: _YES_NO.get(text.strip().lower()),
}


def question(dimension: str) -> Question:
    return next(q for q in QUESTIONS if q.dimension == dimension)


def canonical_label(dimension: str, text: str) -> str | None:
    """The canonical answer for ``text`` on ``dimension`` (synonyms accepted); None if it is none."""
    word = " ".join(text.strip().lower().split())
    if word in (UNCLEAR, NO_FACE) and word in question(dimension).answers:
        return word
    return _READERS[dimension](text)


def answer_help(dimension: str) -> str:
    return ", ".join(question(dimension).answers)
