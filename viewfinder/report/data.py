"""The report's data model, gathered from the run store (and the scoring stage's aggregates).

Everything the templates show is computed here; the templates only lay it out. A value that
was not measured stays ``None`` and is shown as "not measured", never as 0.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping

from pydantic import ValidationError

from viewfinder.errors import BadInput
from viewfinder.score.adherence import DIMENSION_METHODS, ImageAdherence, image_adherence, present_methods, requested
from viewfinder.score.aggregate import ordered_models
from viewfinder.score.model import ScoreReport, load_score_report
from viewfinder.store import ImageRecord, RunStore
from viewfinder.study import Study
from viewfinder.study.grammar import FIELDS

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
    method: str  # judge or faces
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
    image_src: str  # relative to report/
    thumb_src: str  # relative to report/
    width: int
    height: int
    title: str | None
    description: str | None
    sections: list[tuple[str, list[CardField]]]  # in CARD_LAYOUT order
    verdicts: list[Verdict] = field(default_factory=list)

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
            "th": self.thumb_src,
            "w": self.width,
            "h": self.height,
            "t": self.title,
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


# --------------------------------------------------------------------------------------
# gathering


def load_specs(store: RunStore) -> dict[str, Spec]:
    """Every registered measurement spec by "analyzer.name", in analyzer, then name order."""
    return {
        f"{analyzer}.{name}": Spec(f"{analyzer}.{name}", analyzer, row.version, name, row.unit, row.better,
                                   row.description)
        for (analyzer, name), row in sorted(store.specs().items())
    }


@dataclass(frozen=True)
class Line:
    """One line of every card: its label, the measurement column, text or number, digits."""

    label: str
    key: str
    as_text: bool = False
    digits: int = 2


#: The card, as in the seed post: sections of labelled lines (plus faces and sharpness).
CARD_LAYOUT: tuple[tuple[str, tuple[Line, ...]], ...] = (
    ("Characteristic", (
        Line("Shot", "judge.shot", as_text=True),
        Line("Aesthetic Score", "judge.aesthetic"),
        Line("LAION Aesthetic", "clip.aesthetic"),
        Line("Mood", "judge.moods", as_text=True),
        Line("Faces", "faces.face_count"),
        Line("Expression", "faces.expression", as_text=True),
    )),
    ("Quality", (
        Line("Entropy", "pixels.entropy"),
        Line("Noise", "pixels.noise"),
        Line("Prompt CLIP Score", "clip.clip_score"),
        Line("Sharpness", "pixels.sharpness", digits=0),
    )),
    ("AI Evaluation", (
        Line("Likelihood of AI", "judge.ai_likelihood"),
        Line("Image errors", "judge.image_errors", as_text=True),
    )),
)


def card_layout(specs: dict[str, Spec]) -> list[list[Any]]:
    """The layout once for the page: ``[[section, [[label, scale], ...]], ...]``."""
    return [
        [name, [[line.label, "" if line.as_text or line.key not in specs else specs[line.key].scale]
                for line in lines]]
        for name, lines in CARD_LAYOUT
    ]


def _field(label: str, key: str, m: dict[str, tuple[float | None, str | None]], specs: dict[str, Spec],
           *, as_text: bool = False, digits: int = 2) -> CardField:
    value, text = m.get(key, (None, None))
    if as_text:
        shown = text if text is not None else (format_number(value, digits) if value is not None else None)
        return CardField(label, key, text=shown or None, spec=specs.get(key))
    return CardField(label, key, value=value, spec=specs.get(key), digits=digits)


def build_card(row: ImageRecord, m: dict[str, tuple[float | None, str | None]],
               specs: dict[str, Spec], verdicts: list[Verdict], thumb_src: str) -> Card:
    """One card from an image row (store.images()) and its measurements."""
    fields = {k: row.prompt_field(k) for k in FIELDS}

    def text(key: str) -> str | None:
        return m.get(key, (None, None))[1] or None

    sections = [
        (name, [_field(line.label, line.key, m, specs, as_text=line.as_text, digits=line.digits) for line in lines])
        for name, lines in CARD_LAYOUT
    ]
    return Card(
        image_id=row.id,
        model=row.model,
        seed=row.seed,
        prompt=row.prompt_text,
        fields=fields,
        image_src="../" + row.path,
        thumb_src=thumb_src,
        width=row.width,
        height=row.height,
        title=text("judge.title"),
        description=text("judge.description"),
        sections=sections,
        verdicts=verdicts,
    )


def image_verdicts(row: ImageRecord, item: ImageAdherence, study: Study,
                   raw: Mapping[str, Any]) -> list[Verdict]:
    """Per-dimension outcome of one image for each method, by the scoring stage's rules
    (``raw``: the image's stored answers by column, shown in the detail as given)."""
    out = []
    for method in DIMENSION_METHODS:
        if method.key not in item.flags:
            continue
        flag = item.flags[method.key]
        outcome = "not judged" if flag is None else ("follows" if flag else "misses")
        detail = ""
        if method.kind == "label":
            wanted = " or ".join(sorted(requested(method.dimension, row, study) or ()))
            seen = raw.get(method.column)
            detail = f'asked "{wanted}", seen "{seen if seen is not None else "nothing"}"'
        out.append(Verdict(method.dimension, method.method, outcome, detail))
    return out


def gather(store: RunStore, study: Study, rows: list[ImageRecord], thumbs: dict[str, str] | None = None) -> ReportData:
    """Read the whole report's data from ``store`` for the image ``rows`` (``store.images()``);
    ``thumbs`` maps sha256 to a thumb path."""
    specs = load_specs(store)
    table = store.measurement_pairs()
    flat = {image_id: {k: (v if v is not None else t) for k, (v, t) in m.items()} for image_id, m in table.items()}
    adherence = {a.image_id: a for a in image_adherence(rows, flat, study, present_methods(flat))}
    cards = []
    for row in rows:
        m = table.get(row.id, {})
        verdicts = image_verdicts(row, adherence[row.id], study, flat.get(row.id, {}))
        thumb = (thumbs or {}).get(row.sha256, "../" + row.path)
        cards.append(build_card(row, m, specs, verdicts, thumb))
    try:
        score = load_score_report(store)
    except ValidationError:
        raise BadInput(
            f"{store.run_dir}: the stored score report does not match this viewfinder version; "
            f"run 'viewfinder score {store.run_dir}' again, then 'viewfinder report {store.run_dir}'"
        ) from None
    return ReportData(
        study=study,
        cards=cards,
        specs=specs,
        methods=gather_methods(store, study, cards, table, specs),
        score=score,
        metric_summary=summarise_metrics(cards, table, specs),
    )


def gather_methods(store: RunStore, study: Study, cards: list[Card],
                   table: dict[int, dict[str, tuple[float | None, str | None]]], specs: dict[str, Spec]) -> Methods:
    from viewfinder import __version__

    models = Counter(c.model for c in cards)
    judges: Counter[str] = Counter()
    for m in table.values():
        name = m.get("judge.judge_model", (None, None))[1]
        if name:
            judges[name] += 1
    analyzers = []
    for run in store.analyzer_runs():
        names = sorted(spec.name for spec in specs.values() if spec.analyzer == run.analyzer)
        analyzers.append(AnalyzerInfo(run.analyzer, run.version, run.done, run.failed, names))
    costs = [(total.kind, total.model, total.usd, total.entries) for total in store.cost_totals()]
    dates = store.image_dates()
    texts = store.text_versions()
    seeds = sorted({c.seed for c in cards if c.seed is not None}) or list(study.seeds)
    return Methods(
        models=sorted(models.items()),
        judges=sorted(judges.items()),
        analyzers=analyzers,
        seeds=seeds,
        costs=costs,
        total_cost_usd=store.total_cost(),
        first_image_at=dates.first,
        last_image_at=dates.last,
        texts=texts,
        generation=_generation_settings(study),
        jobs=store.job_counts(),
        viewfinder_version=__version__,
        clip_model=study.analysis.clip_model,
        aesthetic_model=study.analysis.aesthetic_model,
    )


def _generation_settings(study: Study) -> dict[str, Any]:
    """The study's generation parameters, then each model's changes as one line per model."""
    settings: dict[str, Any] = study.generation.model_dump(exclude_none=True, exclude={"per_model"})
    for model, changes in study.generation.per_model.items():
        settings[f"for {model}"] = ", ".join(f"{k}={v}" for k, v in changes.model_dump(exclude_none=True).items())
    return settings


SUMMARY_KEYS = ("clip.clip_score", "clip.aesthetic", "judge.aesthetic", "judge.ai_likelihood",
                "pixels.entropy", "pixels.noise", "pixels.sharpness")


def summarise_metrics(cards: list[Card], table: dict[int, dict[str, tuple[float | None, str | None]]],
                      specs: dict[str, Spec]) -> list[dict[str, Any]]:
    """Mean, spread and count of the main numbers, per model (a descriptive table)."""
    import numpy as np

    rows = []
    by_model: dict[str, list[int]] = defaultdict(list)
    for card in cards:
        by_model[card.model].append(card.image_id)
    for key in SUMMARY_KEYS:
        if key not in specs:
            continue
        for model, ids in sorted(by_model.items()):
            values = np.array([table[i][key][0] for i in ids if i in table and key in table[i]
                               and table[i][key][0] is not None], dtype=float)
            rows.append({
                "key": key, "spec": specs[key], "model": model, "n": int(values.size),
                "n_missing": len(ids) - int(values.size),
                "mean": float(values.mean()) if values.size else None,
                "sd": float(values.std(ddof=1)) if values.size > 1 else None,
                "median": float(np.median(values)) if values.size else None,
            })
    return rows


def embed_json(data: Any) -> str:
    """JSON safe inside a <script type="application/json"> element (no '</script>' break-out)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
