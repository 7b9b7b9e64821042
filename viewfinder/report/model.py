"""The report's data model: what each card, table and plot shows (filled by :mod:`viewfinder.report.data`).

A value that was not measured stays ``None`` and is shown as "not measured", never as 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from viewfinder.score.aggregate import ordered_models
from viewfinder.score.model import ScoreReport
from viewfinder.store import CardRole, Role
from viewfinder.study import Study

NOT_MEASURED = "not measured"
DIRECTION_WORDS = {
    "higher": "higher is better",
    "lower": "lower is better",
    "none": "no better direction",
    "target": "closer to the target is better",
}


@dataclass(frozen=True)
class Spec:
    """What a measurement means: unit or scale, better direction, analyzer and version."""

    key: str  # "analyzer.name"
    analyzer: str
    version: str
    name: str
    unit: str
    better: str
    description: str
    roles: tuple[Role, ...] = ()

    @property
    def card(self) -> CardRole | None:
        """Where the measurement goes on the card, if anywhere."""
        return next((role for role in self.roles if isinstance(role, CardRole)), None)

    @property
    def direction(self) -> str:
        return DIRECTION_WORDS.get(self.better, self.better)

    @property
    def scale(self) -> str:
        """Unit and direction, e.g. "bits 0-8, higher is better"."""
        parts = [self.unit] if self.unit else []
        if self.better != "none":
            parts.append(self.direction)
        return ", ".join(parts)


@dataclass(frozen=True)
class CardField:
    """One labelled line of a card: a number with its scale, or a text."""

    label: str
    key: str
    value: float | None = None
    text: str | None = None
    spec: Spec | None = None
    digits: int = 2

    @property
    def measured(self) -> bool:
        return self.value is not None or bool(self.text)

    @property
    def shown(self) -> str:
        """The value as printed on the card ("not measured" when absent)."""
        if self.value is not None:
            return format_number(self.value, self.digits)
        if self.text:
            return self.text
        return NOT_MEASURED

    @property
    def scale(self) -> str:
        """The spec's unit and direction (empty for texts)."""
        return "" if self.spec is None or self.text is not None else self.spec.scale


@dataclass(frozen=True)
class Verdict:
    """Whether one image follows one prompt dimension, as judged by one method."""

    dimension: str  # camera_angle, shot_size, scene, style, emotion (the scoring stage's names)
    method: str  # the answering method, e.g. judge or faces
    outcome: str  # "follows" | "misses" | "not judged"
    detail: str = ""  # e.g. 'asked "low-angle", seen "eye-level"'

    @property
    def label(self) -> str:
        return self.dimension.replace("_", " ").capitalize()


@dataclass
class Card:
    """One generated image with everything the post says about it."""

    image_id: int
    model: str
    seed: int | None
    prompt: str
    fields: dict[str, str]
    image_src: str  # the full-size original, relative to report/ (a link: it stays in the run folder)
    embedded: str | None  # the down-scaled image as a data URI; None when the file could not be read
    width: int
    height: int
    title: str | None
    description: str | None
    sections: list[tuple[str, list[CardField]]]  # in the card layout's order (see report.data.card_lines)
    verdicts: list[Verdict] = field(default_factory=list)
    #: why a measurement is missing, by analyzer ("failed: timeout", "not run"); see report.data.why_missing
    missing: dict[str, str] = field(default_factory=dict)
    title_note: str | None = None  # why the card has no title (it then shows the prompt's emotion and variant)

    @property
    def heading(self) -> str:
        """The card's heading: the judge's title, else the prompt's emotion and variant."""
        if self.title:
            return self.title
        variant = self.fields.get("variant", "")
        return f"{self.fields.get('emotion', '')}: {variant}" if variant else self.prompt[:80]

    @property
    def camera_label(self) -> str:
        return self.fields.get("camera", "")

    def to_json(self) -> dict[str, Any]:
        """Compact form embedded in the HTML page's data island."""
        return {
            "id": self.image_id,
            "m": self.model,
            "s": self.seed,
            "p": self.prompt,
            "e": self.fields.get("emotion", ""),
            "c": self.fields.get("camera", ""),
            "st": self.fields.get("style", ""),
            "cat": self.fields.get("category", ""),
            "img": self.image_src,
            "th": self.embedded,
            "w": self.width,
            "h": self.height,
            "t": self.heading,
            "tn": self.title_note,
            "d": self.description,
            "f": [f.shown if f.measured else None for _, rows in self.sections for f in rows],
            "v": [[v.label, v.method, v.outcome, v.detail] for v in self.verdicts],
        }


@dataclass(frozen=True)
class AnalyzerInfo:
    name: str
    version: str
    images_done: int
    images_failed: int
    measurements: list[str]


@dataclass(frozen=True)
class Methods:
    """How the run was made: models, judges, analyzers, seeds, costs and dates."""

    models: list[tuple[str, int]]  # model, images
    judges: list[tuple[str, int]]  # judge model, images judged
    analyzers: list[AnalyzerInfo]
    seeds: list[int]
    costs: list[tuple[str, str, float, int]]  # kind, model, usd, entries
    total_cost_usd: float
    first_image_at: str | None
    last_image_at: str | None
    texts: list[tuple[str, str]]  # kind, version (judge prompt versions, ...)
    generation: dict[str, Any]
    jobs: dict[str, int]
    viewfinder_version: str
    clip_model: str
    aesthetic_model: str
    not_measured: list[str] = field(default_factory=list)  # failures and left-out values: count, reason, fix
    judges_none: str = "none"  # what "Judges:" says when no image was judged (and why)
    unpriced: list[str] = field(default_factory=list)  # models booked at $0 for want of a price


@dataclass
class ReportData:
    """Everything the report shows."""

    study: Study
    cards: list[Card]
    specs: dict[str, Spec]
    methods: Methods
    score: ScoreReport | None  # None before scoring ran
    metric_summary: list[dict[str, Any]] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        """Models with images, in the scoring stage's order (the study's, then others by name)."""
        return ordered_models((c.model for c in self.cards), self.study)

    @property
    def emotions(self) -> list[str]:
        return list(dict.fromkeys(c.fields.get("emotion", "") for c in self.cards))

    @property
    def cameras(self) -> list[str]:
        return list(dict.fromkeys(c.camera_label for c in self.cards))


def format_number(value: float, digits: int = 2) -> str:
    """Numbers as the post prints them (integers without decimals)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}f}"
