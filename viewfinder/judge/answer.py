"""The judge's answer: one fixed schema, validated with pydantic, whatever the backend.

The same schema is sent to APIs that support strict JSON-schema output and written into
the prompt for those that do not; every reply is validated here before anything is stored.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from viewfinder.study.vocabulary import (
    CAMERA_ANGLES,
    EXPRESSIONS,
    NO_FACE,
    SHOT_SIZES,
    UNCLEAR,
    canonical_angle,
    canonical_expression,
    canonical_shot_size,
)

ANGLE_CHOICES: tuple[str, ...] = (*CAMERA_ANGLES, UNCLEAR)
SHOT_CHOICES: tuple[str, ...] = (*SHOT_SIZES, UNCLEAR)
EXPRESSION_CHOICES: tuple[str, ...] = (*EXPRESSIONS, NO_FACE)
YES_NO: tuple[str, ...] = ("yes", "no")

Angle = Literal[ANGLE_CHOICES]  # type: ignore[valid-type]
ShotSize = Literal[SHOT_CHOICES]  # type: ignore[valid-type]
Expression = Literal[EXPRESSION_CHOICES]  # type: ignore[valid-type]
YesNo = Literal["yes", "no"]

Text = Annotated[str, Field(min_length=1, max_length=2000)]


class JudgeAnswer(BaseModel):
    """What the judge says about one image; the field order is the order it reasons in."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    description: Text
    shot: Text
    aesthetic: float = Field(ge=0, le=1)
    moods: list[str] = Field(min_length=3, max_length=3)
    image_errors: Text
    ai_likelihood: float = Field(ge=0, le=1)
    people: int = Field(ge=0, le=10000)
    face_visible: bool
    camera_angle: Angle
    shot_size: ShotSize
    expression: Expression
    scene_match: YesNo
    style_match: YesNo

    @field_validator("moods", mode="before")
    @classmethod
    def _split_a_mood_string(cls, value: Any) -> Any:
        """Models without a schema often write "a, b, c" for the list."""
        return value.split(",") if isinstance(value, str) else value

    @field_validator("camera_angle", "shot_size", "expression", "scene_match", "style_match", mode="before")
    @classmethod
    def _canonical_words(cls, value: Any, info: ValidationInfo) -> Any:
        """Map near-misses ("Eye level", "happy", "Yes") onto the canonical choice."""
        if not isinstance(value, str):
            return {True: "yes", False: "no"}.get(value, value) if info.field_name.endswith("_match") else value
        word = " ".join(value.strip().lower().replace("_", " ").split())
        canonical = {
            "camera_angle": canonical_angle,
            "shot_size": canonical_shot_size,
            "expression": canonical_expression,
        }.get(info.field_name)
        return (canonical(word) if canonical else None) or word

    @field_validator("moods")
    @classmethod
    def _one_word_each(cls, value: list[str]) -> list[str]:
        words = [word.strip().lower() for word in value]
        for word in words:
            if not word or len(word) > 40 or "," in word:
                raise ValueError("each mood is one short word or phrase without commas")
        return words

    @model_validator(mode="before")
    @classmethod
    def _no_face_no_expression(cls, data: Any) -> Any:
        """Dependency gating: without a visible face the expression is "no face", never a guess."""
        if isinstance(data, dict) and _false(data.get("face_visible")):
            return {**data, "expression": NO_FACE}
        return data

    @model_validator(mode="after")
    def _face_needs_an_expression(self) -> "JudgeAnswer":
        if self.face_visible and self.expression == NO_FACE:
            raise ValueError(
                "face_visible is true, so expression must be one of " + ", ".join(EXPRESSIONS)
            )
        return self


_BOOL = TypeAdapter(bool)  # built once: a TypeAdapter costs ~1 ms to build, per answer before


def _false(value: Any) -> bool:
    """True for every spelling of false pydantic accepts ("false", "no", 0, ...)."""
    try:
        return _BOOL.validate_python(value) is False
    except ValidationError:
        return False


def response_schema() -> dict[str, Any]:
    """The JSON schema sent as the strict response format (the common strict subset).

    Ranges and list lengths are checked by :class:`JudgeAnswer`, not sent, because strict
    modes of several APIs reject numeric and length keywords.
    """

    def text(description: str) -> dict[str, Any]:
        return {"type": "string", "description": description}

    def choice(options: tuple[str, ...], description: str) -> dict[str, Any]:
        return {"type": "string", "enum": list(options), "description": description}

    properties: dict[str, Any] = {
        "title": text("a short, catchy title for the image, as in a photo blog"),
        "description": text("two or three sentences describing the image for a reader"),
        "shot": text("what the camera shows: subject, framing, setting, focus"),
        "aesthetic": {"type": "number", "description": "aesthetic quality from 0 (poor) to 1 (excellent)"},
        "moods": {
            "type": "array",
            "items": {"type": "string"},
            "description": "exactly three single mood words",
        },
        "image_errors": text("visible flaws or artefacts (noise, blur, anatomy, text); 'none' if none"),
        "ai_likelihood": {"type": "number", "description": "probability from 0 to 1 that the image is AI-generated"},
        "people": {"type": "integer", "description": "number of people visible"},
        "face_visible": {"type": "boolean", "description": "true when a human face is clearly visible"},
        "camera_angle": choice(ANGLE_CHOICES, "camera angle relative to the main person, or the main subject if no person"),
        "shot_size": choice(SHOT_CHOICES, "shot size of the main person, or the main subject if no person"),
        "expression": choice(EXPRESSION_CHOICES, "the main face's expression; 'no face' when no face is visible"),
        "scene_match": choice(YES_NO, "does the image show the scene described in the data block?"),
        "style_match": choice(YES_NO, "is the image in the style named in the data block?"),
    }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


class AnswerError(ValueError):
    """A reply that is not a valid :class:`JudgeAnswer`; the message is fed back on retry."""


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


def parse_answer(content: str) -> JudgeAnswer:
    """Parse and validate a reply; raise :class:`AnswerError` saying what is wrong."""
    text = _FENCE.sub("", content.strip())
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = _first_json_object(text)
    if not isinstance(data, dict):
        raise AnswerError("the reply is not one JSON object")
    try:
        return JudgeAnswer.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'answer'}: {error['msg']}" for error in exc.errors()
        )
        raise AnswerError(problems) from None


def _first_json_object(text: str) -> Any:
    """The first decodable ``{...}`` in free text (local models wrap JSON in prose)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            return decoder.raw_decode(text, match.start())[0]
        except json.JSONDecodeError:
            continue
    raise AnswerError("the reply holds no JSON object")
