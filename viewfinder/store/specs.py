"""Measurement specs: what a measurement is and what role it plays downstream.

A spec declares the unit, the better direction (a closed set, checked at construction) and
its roles. Scoring and the report find measurements by role, never by name:

- :class:`ScoreRole`: a number summarised with a mean and interval in the score tables/plots.
- :class:`AdherenceRole`: an analyzer's answer on one prompt dimension, by one method.
- :class:`CardRole`: a line (or the title/description) on each image's card.
- :class:`ModelRole`: the text names the model that made the analyzer's numbers (methods).
- :class:`FlagRole`: a 0/1 flag the score notes count ("N of M images ...").

A spec with no role is raw data: stored and exported, not shown.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import Enum, StrEnum
from typing import Any


class Better(StrEnum):
    """Which direction of a measurement is better."""

    HIGHER = "higher"
    LOWER = "lower"
    NONE = "none"
    TARGET = "target"


class Dimension(StrEnum):
    """The prompt dimensions an image can follow (the scoring stage's names)."""

    CAMERA_ANGLE = "camera_angle"
    SHOT_SIZE = "shot_size"
    SCENE = "scene"
    STYLE = "style"
    EMOTION = "emotion"  # answered by facial expressions


class Reading(StrEnum):
    """How an adherence answer is read: a canonical label compared with the request, or a 1/0 match."""

    LABEL = "label"
    MATCH = "match"


class CardSection(StrEnum):
    """Where a card line goes (title and description are the card's heading and text)."""

    TITLE = "title"
    DESCRIPTION = "description"
    CHARACTERISTIC = "Characteristic"
    QUALITY = "Quality"
    AI_EVALUATION = "AI Evaluation"


@dataclass(frozen=True)
class ScoreRole:
    """A continuous score: ``scale`` names a verdict scale of :mod:`viewfinder.score.verdicts`."""

    label: str
    scale: str
    compare: bool = True  # part of the paired model comparisons (and their Holm family)
    order: int = 100


@dataclass(frozen=True)
class AdherenceRole:
    """The analyzer's answer on ``dimension`` by ``method`` (``method_name`` as the report says it)."""

    dimension: Dimension
    method: str
    method_name: str
    reading: Reading
    measures: str
    order: int = 100

    def __post_init__(self) -> None:
        object.__setattr__(self, "dimension", Dimension(self.dimension))
        object.__setattr__(self, "reading", Reading(self.reading))

    @property
    def label(self) -> str:
        """E.g. "Camera angle (VLM judge)"."""
        return f"{self.dimension.value.replace('_', ' ').capitalize()} ({self.method_name})"


@dataclass(frozen=True)
class CardRole:
    """A card line: ``label`` in ``section`` at ``order``; ``summary``/``plot`` put a number in the
    report's per-model summary table and distribution plot."""

    section: CardSection
    label: str = ""
    order: int = 100
    as_text: bool = False
    digits: int = 2
    summary: bool = False
    plot: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "section", CardSection(self.section))


@dataclass(frozen=True)
class ModelRole:
    """The text names the model that made the analyzer's measurements of an image."""


@dataclass(frozen=True)
class FlagRole:
    """A 0/1 flag; the score notes say "<n> of <total> images <note> (measurement <key>)"."""

    note: str


Role = ScoreRole | AdherenceRole | CardRole | ModelRole | FlagRole
_KINDS: dict[str, type[Any]] = {
    "score": ScoreRole,
    "adherence": AdherenceRole,
    "card": CardRole,
    "model": ModelRole,
    "flag": FlagRole,
}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}


@dataclass(frozen=True)
class MeasurementSpec:
    """What a measurement is: unit or scale, better direction, meaning and roles (none = raw data)."""

    name: str
    unit: str
    better: Better
    description: str
    roles: tuple[Role, ...] = field(default=())

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "better", Better(self.better))
        except ValueError:
            raise ValueError(
                f"measurement {self.name!r}: better={self.better!r} is not one of {', '.join(b.value for b in Better)}"
            ) from None
        object.__setattr__(self, "roles", tuple(self.roles))
        for role in self.roles:
            if type(role) not in _KIND_OF:
                raise ValueError(f"measurement {self.name!r}: {role!r} is not a measurement role")

    def role(self, kind: type[Any]) -> Any:
        """The first role of class ``kind``, or None."""
        return next((role for role in self.roles if isinstance(role, kind)), None)


@dataclass(frozen=True)
class StoredSpec:
    """A spec as registered in a run: by which analyzer (and version)."""

    analyzer: str
    version: str
    spec: MeasurementSpec

    @property
    def key(self) -> str:
        """The measurement column, "analyzer.name"."""
        return f"{self.analyzer}.{self.spec.name}"

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def unit(self) -> str:
        return self.spec.unit

    @property
    def better(self) -> str:
        return self.spec.better.value

    @property
    def description(self) -> str:
        return self.spec.description


def roles_to_json(roles: tuple[Role, ...]) -> str:
    """The roles as stored in ``measurement_specs.roles``."""
    return json.dumps([{"kind": _KIND_OF[type(role)], **_plain(asdict(role))} for role in roles])


def roles_from_json(text: str | None) -> tuple[Role, ...]:
    """Roles read back from the store (unknown kinds or fields from a newer version are skipped)."""
    out: list[Role] = []
    for item in json.loads(text or "[]"):
        cls = _KINDS.get(item.pop("kind", ""))
        if cls is not None:
            known = {f.name for f in fields(cls)}
            out.append(cls(**{k: v for k, v in item.items() if k in known}))
    return tuple(out)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.value if isinstance(v, Enum) else v for k, v in values.items()}
