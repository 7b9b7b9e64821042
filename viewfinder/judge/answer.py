"""The judge's answer: one fixed schema, validated with pydantic, whatever the backend.

The same schema is sent to APIs that support strict JSON-schema output and written into
the prompt for those that do not; every reply is validated here before anything is stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from viewfinder.study.vocabulary import CAMERA_ANGLES, CANONICAL_READERS, EXPRESSIONS, NO_FACE, SHOT_SIZES, UNCLEAR

ANGLE_CHOICES: tuple[str, ...] = (*CAMERA_ANGLES, UNCLEAR)
SHOT_CHOICES: tuple[str, ...] = (*SHOT_SIZES, UNCLEAR)
EXPRESSION_CHOICES: tuple[str, ...] = (*EXPRESSIONS, NO_FACE)
YES_NO: tuple[str, ...] = ("yes", "no")

Angle = Literal[ANGLE_CHOICES]  # type: ignore[valid-type]
ShotSize = Literal[SHOT_CHOICES]  # type: ignore[valid-type]
Expression = Literal[EXPRESSION_CHOICES]  # type: ignore[valid-type]
YesNo = Literal["yes", "no"]

Text = Annotated[str, Field(min_length=1, max_length=2000)]
MIN_MOODS, MAX_MOODS = 1, 5  # three are asked for; fewer or more is still a usable answer


class JudgeAnswer(BaseModel):
    """What the judge says about one image; the field order is the order it reasons in."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    description: Text
    shot: Text
    aesthetic: float = Field(ge=0, le=1)
    moods: list[str] = Field(min_length=MIN_MOODS, max_length=MAX_MOODS)
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
        field = info.field_name or ""
        if not isinstance(value, str):
            return {True: "yes", False: "no"}.get(value, value) if field.endswith("_match") else value
        word = " ".join(value.strip().lower().replace("_", " ").split())
        canonical = CANONICAL_READERS.get(field)
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

    @field_validator("expression")
    @classmethod
    def _face_needs_an_expression(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A field validator (not a model one) so the error names ``expression`` alone."""
        if info.data.get("face_visible") and value == NO_FACE:
            raise ValueError("face_visible is true, so expression must be one of " + ", ".join(EXPRESSIONS))
        return value


_BOOL = TypeAdapter(bool)  # built once: a TypeAdapter costs ~1 ms to build, per answer before


def _false(value: Any) -> bool:
    """True for every spelling of false pydantic accepts ("false", "no", 0, ...)."""
    try:
        return _BOOL.validate_python(value) is False
    except ValidationError:
        return False


def response_schema() -> dict[str, Any]:
    """The JSON schema sent as the strict response format (the common strict subset).

    Numeric ranges are checked by :class:`JudgeAnswer`, not sent, because strict modes of
    several APIs reject numeric keywords; the moods' list length is sent (``minItems`` and
    ``maxItems`` are in the strict subset) so the model knows fewer than three is fine.
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
            "minItems": MIN_MOODS,
            "maxItems": MAX_MOODS,
            "description": "three single mood words (one to five are accepted)",
        },
        "image_errors": text("visible flaws or artefacts (noise, blur, anatomy, text); 'none' if none"),
        "ai_likelihood": {"type": "number", "description": "probability from 0 to 1 that the image is AI-generated"},
        "people": {"type": "integer", "description": "number of people visible"},
        "face_visible": {"type": "boolean", "description": "true when a human face is clearly visible"},
        "camera_angle": choice(
            ANGLE_CHOICES, "camera angle relative to the main person, or the main subject if no person"
        ),
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


def _optional_fields() -> dict[str, Any]:
    """Every field of :class:`JudgeAnswer` with the same checks, but None when not given."""
    fields: dict[str, Any] = {}
    for name, info in JudgeAnswer.model_fields.items():
        optional = FieldInfo.merge_field_infos(info, default=None)
        annotation: Any = info.annotation
        fields[name] = (annotation | None, optional)
    return fields


PartialAnswer: type[JudgeAnswer] = create_model(
    "PartialAnswer", __base__=JudgeAnswer, __doc__="A judge answer whose invalid fields are None.", **_optional_fields()
)
"""The same form with every field optional: what is left of an answer once its invalid fields are dropped."""


@dataclass(frozen=True)
class FieldReading:
    """A reply read field by field: the valid fields (others None) and why each other one is missing."""

    answer: JudgeAnswer
    problems: dict[str, str]

    def problem_text(self, names: Iterable[str] | None = None) -> str:
        """The problems (of ``names``, or all) as one line: ``field: reason; ...``."""
        wanted = self.problems if names is None else {n: self.problems[n] for n in names if n in self.problems}
        return "; ".join(f"{name}: {reason}" for name, reason in wanted.items())


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


def parse_answer(content: str) -> JudgeAnswer:
    """Parse and validate a whole reply; raise :class:`AnswerError` saying what is wrong."""
    data = _json_object(content)
    try:
        return JudgeAnswer.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'answer'}: {error['msg']}" for error in exc.errors()
        )
        raise AnswerError(problems) from None


def read_fields(content: str) -> FieldReading:
    """Keep every valid field of a reply; an invalid or missing field is None with its reason.

    Raises :class:`AnswerError` only when the reply holds no JSON object at all. Unknown
    keys are named in the problems and ignored: one stray key must not cost the answers next to it.
    """
    data = _json_object(content)
    fields = JudgeAnswer.model_fields
    problems = {key: "not a field of the form (extra keys are ignored)" for key in data if key not in fields}
    given: dict[str, Any] = {}
    for name in JudgeAnswer.model_fields:
        if data.get(name) is None:
            problems[name] = "missing from the answer"
        else:
            given[name] = data[name]
    for _ in range(len(JudgeAnswer.model_fields) + 1):  # each round drops at least one field
        try:
            return FieldReading(PartialAnswer.model_validate(given), problems)
        except ValidationError as exc:
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else next(iter(given))
                problems.setdefault(name, f"{error['msg']} (got {_short(given.pop(name, None))})")
    raise AssertionError("unreachable: an empty answer is valid")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _json_object(content: str) -> dict[str, Any]:
    text = _FENCE.sub("", content.strip())
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = _first_json_object(text)
    if not isinstance(data, dict):
        raise AnswerError("the reply is not one JSON object")
    return data


def _first_json_object(text: str) -> Any:
    """The first decodable ``{...}`` in free text (local models wrap JSON in prose)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            return decoder.raw_decode(text, match.start())[0]
        except json.JSONDecodeError:
            continue
    raise AnswerError("the reply holds no JSON object")
