"""The judge's measurements: ONE table of fields, each a spec (unit, direction, roles) and a reader.

The ``judge`` analyzer registers :data:`JUDGE_SPECS` and stores :func:`answer_rows` of each
answer; both come from :data:`FIELDS`, so a new field is one line there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from viewfinder.judge.answer import JudgeAnswer
from viewfinder.store import (
    AdherenceRole,
    Better,
    CardRole,
    CardSection,
    Dimension,
    MeasurementSpec,
    ModelRole,
    Reading,
    Role,
    ScoreRole,
)
from viewfinder.study.vocabulary import NO_FACE, UNCLEAR

Row = tuple[str, float | None, str | None]  # (name, value, text) of one measurement


@dataclass(frozen=True)
class Answered:
    """One parsed answer with what came with it: the judge model and the match questions' P(yes)."""

    answer: JudgeAnswer
    judge_model: str
    scene_p_yes: float | None = None
    style_p_yes: float | None = None


def answer_rows(
    answer: JudgeAnswer, judge_model: str, *, scene_p_yes: float | None, style_p_yes: float | None
) -> list[Row]:
    """The stored measurements of one answer, one per field of :data:`FIELDS` that has a value."""
    answered = Answered(answer, judge_model, scene_p_yes, style_p_yes)
    rows: list[Row] = []
    for spec, read in FIELDS:
        value = read(answered)
        if value is not None:
            rows.append((spec.name, None, value) if isinstance(value, str) else (spec.name, float(value), None))
    return rows


Field = tuple[MeasurementSpec, Callable[["Answered"], "float | str | None"]]


def _text(name: str, unit: str, description: str, *roles: Role, read: Callable[[Answered], str | None]) -> Field:
    return MeasurementSpec(name, unit, Better.NONE, description, roles), read


def _number(
    name: str,
    unit: str,
    better: Better,
    description: str,
    *roles: Role,
    read: Callable[[Answered], float | None],
) -> Field:
    return MeasurementSpec(name, unit, better, description, roles), read


def _yes(word: str | None) -> float | None:
    return None if word is None else 1.0 if word == "yes" else 0.0


def _adherence(dimension: Dimension, reading: Reading, order: int, measures: str) -> AdherenceRole:
    return AdherenceRole(dimension, "judge", "VLM judge", reading, measures, order)


CHAR, AI = CardSection.CHARACTERISTIC, CardSection.AI_EVALUATION

#: THE judge's fields: each measurement's spec (with its roles) and how it is read from an answer.
FIELDS: tuple[Field, ...] = (
    _text(
        "title",
        "text",
        "VLM judge: a short title for the image",
        CardRole(CardSection.TITLE),
        read=lambda a: a.answer.title,
    ),
    _text(
        "description",
        "text",
        "VLM judge: two or three sentences describing the image",
        CardRole(CardSection.DESCRIPTION),
        read=lambda a: a.answer.description,
    ),
    _text(
        "shot",
        "text",
        "VLM judge: what the camera shows (subject, framing, setting)",
        CardRole(CHAR, "Shot", 10, as_text=True),
        read=lambda a: a.answer.shot,
    ),
    _text(
        "moods",
        "text",
        "VLM judge: one to five mood words (three asked for), comma-separated",
        CardRole(CHAR, "Mood", 40, as_text=True),
        read=lambda a: ", ".join(a.answer.moods) if a.answer.moods else None,
    ),
    _text(
        "image_errors",
        "text",
        "VLM judge: visible flaws and artefacts",
        CardRole(AI, "Image errors", 20, as_text=True),
        read=lambda a: a.answer.image_errors,
    ),
    _text(
        "judge_model",
        "text",
        "the VLM that judged the image (backend:model)",
        ModelRole(),
        read=lambda a: a.judge_model,
    ),
    _text(
        "camera_angle",
        "canonical angle",
        f"VLM judge: camera angle relative to the main person (main subject without one), or '{UNCLEAR}'",
        _adherence(
            Dimension.CAMERA_ANGLE,
            Reading.LABEL,
            10,
            "Share of images whose camera angle, as named by the VLM judge, is the angle the prompt asks for.",
        ),
        read=lambda a: a.answer.camera_angle,
    ),
    _text(
        "camera_reference",
        "text",
        "what camera_angle and shot_size were judged against: 'main person', or "
        "'main subject' when no person is visible",
        read=lambda a: None if a.answer.people is None else "main person" if a.answer.people else "main subject",
    ),
    _text(
        "shot_size",
        "canonical shot size",
        f"VLM judge: shot size, or '{UNCLEAR}'",
        _adherence(
            Dimension.SHOT_SIZE,
            Reading.LABEL,
            20,
            "Share of images whose shot size, as named by the VLM judge, is the size the prompt asks for.",
        ),
        read=lambda a: a.answer.shot_size,
    ),
    _text(
        "expression",
        "canonical expression",
        f"VLM judge: the main face's expression; '{NO_FACE}' when no face is visible (never guessed)",
        _adherence(
            Dimension.EMOTION,
            Reading.LABEL,
            50,
            "Share of images with a face whose expression, as "
            "named by the VLM judge, is one the study counts as showing the prompt's emotion.",
        ),
        read=lambda a: a.answer.expression,
    ),
    _number(
        "aesthetic",
        "score 0-1",
        Better.HIGHER,
        "VLM judge: aesthetic quality, 0 poor to 1 excellent",
        ScoreRole("Judge aesthetic score (0-1)", "probability", order=30),
        CardRole(CHAR, "Aesthetic Score", 20, summary=True, plot=True),
        read=lambda a: a.answer.aesthetic,
    ),
    _number(
        "ai_likelihood",
        "probability 0-1",
        Better.LOWER,
        "VLM judge: likelihood that the image is AI-generated",
        ScoreRole("Likelihood of AI (0-1)", "ai_likelihood", order=60),
        CardRole(AI, "Likelihood of AI", 10, summary=True),
        read=lambda a: a.answer.ai_likelihood,
    ),
    _number(
        "people",
        "count",
        Better.NONE,
        "VLM judge: number of people visible",
        read=lambda a: None if a.answer.people is None else float(a.answer.people),
    ),
    _number(
        "scene_match",
        "1 yes / 0 no",
        Better.HIGHER,
        "VLM judge: the image shows the prompt's scene",
        _adherence(
            Dimension.SCENE,
            Reading.MATCH,
            30,
            "Share of images the VLM judge says show the scene the prompt describes.",
        ),
        read=lambda a: _yes(a.answer.scene_match),
    ),
    _number(
        "style_match",
        "1 yes / 0 no",
        Better.HIGHER,
        "VLM judge: the image is in the prompt's style",
        _adherence(
            Dimension.STYLE,
            Reading.MATCH,
            40,
            "Share of images the VLM judge says are in the style the prompt names.",
        ),
        read=lambda a: _yes(a.answer.style_match),
    ),
    _number(
        "scene_p_yes",
        "probability 0-1",
        Better.HIGHER,
        "P(yes) for scene_match from the judge's token log probabilities (VQAScore-style)",
        ScoreRole("Scene P(yes)", "probability", order=40),
        read=lambda a: a.scene_p_yes,
    ),
    _number(
        "style_p_yes",
        "probability 0-1",
        Better.HIGHER,
        "P(yes) for style_match from the judge's token log probabilities (VQAScore-style)",
        ScoreRole("Style P(yes)", "probability", order=50),
        read=lambda a: a.style_p_yes,
    ),
)
JUDGE_SPECS: list[MeasurementSpec] = [spec for spec, _ in FIELDS]

#: Answer fields that scoring reads (adherence answers, and what gates them): only a problem
#: in one of these is worth a paid retry; the others are stored as missing with their reason.
SCORED_FIELDS: frozenset[str] = frozenset(
    {spec.name for spec, _ in FIELDS if any(isinstance(role, AdherenceRole) for role in spec.roles)} | {"face_visible"}
)
