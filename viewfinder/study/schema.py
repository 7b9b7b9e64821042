"""The study file schema (TOML, validated with pydantic v2)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from viewfinder.study.grammar import FIELDS
from viewfinder.study.rules import field_problem, topic_problem
from viewfinder.study.vocabulary import EXPRESSIONS, canonical_expression

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
DEFAULT_TEMPLATE = "{topic} {emotion}: {variant} ; {subject}; {camera}; {category}; {scene}; {style}"
DEFAULT_MODEL = "fal:fal-ai/flux/schnell"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_field(name: str, value: str) -> str:
    problem = field_problem(name, value)
    if problem is not None:
        raise ValueError(problem)
    return value


class Case(Strict):
    """One situation that should show the emotion."""

    variant: NonEmpty
    subject: NonEmpty
    category: NonEmpty
    scene: NonEmpty

    @field_validator("variant", "subject", "category", "scene")
    @classmethod
    def _prompt_field(cls, value: str, info: ValidationInfo) -> str:
        return _check_field(str(info.field_name), value)


class Emotion(Strict):
    """An emotion, the facial expressions that count as showing it, and its cases."""

    name: NonEmpty
    expressions: list[NonEmpty] = Field(default_factory=list)
    cases: list[Case] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _prompt_field(cls, value: str) -> str:
        return _check_field("emotion", value)

    @field_validator("expressions")
    @classmethod
    def _known_expressions(cls, value: list[str]) -> list[str]:
        out = []
        for item in value:
            canon = canonical_expression(item)
            if canon is None:
                raise ValueError(f"unknown facial expression {item!r}; use one of: {', '.join(EXPRESSIONS)}")
            out.append(canon)
        return out

    @field_validator("cases")
    @classmethod
    def _unique_cases(cls, value: list[Case]) -> list[Case]:
        seen: set[tuple[str, ...]] = set()
        for index, case in enumerate(value):
            key = (case.variant, case.subject, case.category, case.scene)
            if key in seen:
                raise PydanticCustomError(
                    "duplicate_case",
                    "case {number} (variant '{variant}') repeats an earlier case; "
                    "remove it or change one of its fields",
                    {"index": index, "number": index + 1, "variant": case.variant},
                )
            seen.add(key)
        return value


class GenerationSettings(Strict):
    """One model's changes to the study's generation parameters (unset fields keep them)."""

    image_size: str | None = None
    width: int | None = Field(default=None, ge=64, le=4096)
    height: int | None = Field(default=None, ge=64, le=4096)
    num_inference_steps: int | None = Field(default=None, ge=1, le=100)
    output_format: str | None = Field(default=None, pattern="^(jpeg|png)$")
    enable_safety_checker: bool | None = None
    guidance_scale: float | None = None


class Generation(Strict):
    """Parameters sent to every generation backend (each maps them to its own API).

    ``per_model`` changes them for one model, e.g. more steps for a slower model:
    ``[generation.per_model."fal:fal-ai/flux/dev"] num_inference_steps = 28``.
    """

    image_size: str = "landscape_4_3"
    width: int | None = Field(default=None, ge=64, le=4096)
    height: int | None = Field(default=None, ge=64, le=4096)
    num_inference_steps: int = Field(default=4, ge=1, le=100)
    output_format: str = Field(default="jpeg", pattern="^(jpeg|png)$")
    enable_safety_checker: bool = True
    guidance_scale: float | None = None
    per_model: dict[str, GenerationSettings] = Field(default_factory=dict)

    def params_for(self, model: str) -> dict[str, Any]:
        """The parameters sent for ``model``: the study's, with its ``per_model`` changes."""
        params = self.model_dump(exclude_none=True, exclude={"per_model"})
        if model in self.per_model:
            params.update(self.per_model[model].model_dump(exclude_none=True))
        return params


class Analysis(Strict):
    """Which analyzers run and which models they use (CLI options override these)."""

    analyzers: list[NonEmpty] = Field(default_factory=lambda: ["pixels", "clip", "faces", "judge"])
    clip_model: NonEmpty = "openai/clip-vit-large-patch14"
    aesthetic_model: NonEmpty = "laion/sac+logos+ava1-l14-linearMSE"
    expression_model: str = ""
    judge: NonEmpty = "auto"
    batch_size: int = Field(default=16, ge=1, le=4096)


class Study(Strict):
    """A whole study: the grid is emotions x cases x cameras x styles x models x seeds."""

    name: NonEmpty
    topic: NonEmpty
    description: str = ""
    template: NonEmpty = DEFAULT_TEMPLATE
    cameras: list[NonEmpty] = Field(min_length=1)
    styles: list[NonEmpty] = Field(min_length=1)
    models: list[NonEmpty] = Field(default_factory=lambda: [DEFAULT_MODEL], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    sources: list[NonEmpty] = Field(default_factory=list)
    prices: dict[str, float] = Field(default_factory=dict)
    generation: Generation = Field(default_factory=Generation)
    analysis: Analysis = Field(default_factory=Analysis)
    emotions: list[Emotion] = Field(min_length=1)

    @field_validator("topic")
    @classmethod
    def _topic_field(cls, value: str) -> str:
        return _check_field("topic", value)

    @field_validator("styles")
    @classmethod
    def _style_fields(cls, value: list[str]) -> list[str]:
        for item in value:
            _check_field("style", item)
        return value

    @field_validator("cameras")
    @classmethod
    def _known_cameras(cls, value: list[str]) -> list[str]:
        for item in value:
            _check_field("camera", item)
        if len(set(value)) != len(value):
            raise ValueError("a camera position is listed twice; list each once")
        return value

    @field_validator("styles", "seeds", "models")
    @classmethod
    def _no_repeats(cls, value: list) -> list:
        if len(set(value)) != len(value):
            raise ValueError("an entry is listed twice; list each once")
        return value

    @field_validator("models")
    @classmethod
    def _model_names(cls, value: list[str]) -> list[str]:
        for item in value:
            backend, _, model_id = item.partition(":")
            if not backend or not model_id:
                raise ValueError(f"model {item!r} is not 'backend:model-id'; e.g. {DEFAULT_MODEL!r}")
        return value

    @field_validator("prices")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for key, price in value.items():
            if price < 0:
                raise ValueError(f"price for {key!r} is negative; give USD per megapixel >= 0")
        return value

    @field_validator("template")
    @classmethod
    def _template_fields(cls, value: str) -> str:
        import string

        names = {name for _, name, _, _ in string.Formatter().parse(value) if name}
        unknown = names - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown template field(s) {sorted(unknown)}; use only {', '.join(FIELDS)}")
        return value

    @model_validator(mode="after")
    def _per_model_names_a_model(self) -> Study:
        for model in self.generation.per_model:
            if model not in self.models:
                raise PydanticCustomError(
                    "unknown_model",
                    "'{model}' is not in the study's models; add it to models or correct the name",
                    {"model": model, "loc": ("generation", "per_model", model)},
                )
        return self

    @model_validator(mode="after")
    def _topic_is_one_word(self) -> Study:
        problem = topic_problem(self.topic) if self.template == DEFAULT_TEMPLATE else None
        if problem is not None:
            raise PydanticCustomError("topic_words", "{problem}", {"problem": problem, "loc": ("topic",)})
        return self

    @model_validator(mode="after")
    def _unique_emotions(self) -> Study:
        names = [emotion.name for emotion in self.emotions]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"emotion {name!r} is defined twice; merge its cases into one entry")
        return self

    def emotion(self, name: str) -> Emotion:
        for emotion in self.emotions:
            if emotion.name == name:
                return emotion
        raise KeyError(name)
