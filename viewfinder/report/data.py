"""The report's data, gathered from the run store and the scoring stage's stored results.

Everything the templates show is computed here or stored by the scoring stage; the templates
only lay it out. Cards, the summary table and the distribution plot take their lines from the
measurement specs' card roles; verdicts come from the stored per-image adherence.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from viewfinder.errors import BadInput
from viewfinder.providers.fixes import failure_lines
from viewfinder.report.model import (
    AnalyzerInfo,
    Card,
    CardField,
    Methods,
    ReportData,
    Spec,
    Verdict,
    format_number,
)
from viewfinder.score.model import load_score_report
from viewfinder.score.per_image import ImageAdherenceRecord, load_image_adherence
from viewfinder.store import AnalysisRun, CardRole, CardSection, ImageRecord, ModelRole, RunStore
from viewfinder.study import Study
from viewfinder.study.grammar import FIELDS

# --------------------------------------------------------------------------------------
# gathering


def load_specs(store: RunStore) -> dict[str, Spec]:
    """Every registered measurement spec by "analyzer.name", in analyzer, then name order."""
    return {
        stored.key: Spec(
            stored.key,
            stored.analyzer,
            stored.version,
            stored.spec.name,
            stored.spec.unit,
            stored.spec.better.value,
            stored.spec.description,
            stored.spec.roles,
        )
        for stored in store.spec_records()
    }


#: The card's sections, as in the seed post; a spec's card role puts a line in one of them.
SECTIONS = (CardSection.CHARACTERISTIC, CardSection.QUALITY, CardSection.AI_EVALUATION)


def card_lines(specs: Mapping[str, Spec], section: CardSection) -> list[tuple[str, CardRole]]:
    """(measurement key, card role) of every line in ``section``, in the roles' order."""
    lines = [(key, spec.card) for key, spec in specs.items() if spec.card is not None and spec.card.section == section]
    return sorted(lines, key=lambda line: (line[1].order, line[0]))


def layout(specs: Mapping[str, Spec]) -> list[tuple[str, list[tuple[str, CardRole]]]]:
    """The card's sections with their lines (sections without a line are left out)."""
    sections = [(section.value, card_lines(specs, section)) for section in SECTIONS]
    return [(name, lines) for name, lines in sections if lines]


def numbers(specs: Mapping[str, Spec], *, plot: bool = False) -> list[str]:
    """Keys of the card numbers in the summary table (``plot``: in the distribution plot), in card order."""
    return [key for _, lines in layout(specs) for key, role in lines if (role.plot if plot else role.summary)]


def card_layout(specs: dict[str, Spec]) -> list[list[Any]]:
    """The layout once for the page: ``[[section, [[label, scale], ...]], ...]``."""
    return [
        [name, [[role.label, "" if role.as_text else specs[key].scale] for key, role in lines]]
        for name, lines in layout(specs)
    ]


def _field(
    key: str,
    role: CardRole,
    m: dict[str, tuple[float | None, str | None]],
    specs: Mapping[str, Spec],
) -> CardField:
    value, text = m.get(key, (None, None))
    if role.as_text:
        shown = text if text is not None else (format_number(value, role.digits) if value is not None else None)
        return CardField(role.label, key, text=shown or None, spec=specs.get(key))
    return CardField(role.label, key, value=value, spec=specs.get(key), digits=role.digits)


@dataclass(frozen=True)
class CardPlan:
    """Where each measurement goes on a card, worked out once per report (not once per card)."""

    sections: list[tuple[str, list[tuple[str, CardRole]]]]
    titles: list[str]  # measurement keys that give the title, in order
    descriptions: list[str]
    title_analyzer: str | None  # the analyzer that writes titles (the VLM judge), if any registered

    @classmethod
    def of(cls, specs: Mapping[str, Spec]) -> CardPlan:
        titles = [key for key, _ in card_lines(specs, CardSection.TITLE)]
        return cls(
            layout(specs),
            titles,
            [key for key, _ in card_lines(specs, CardSection.DESCRIPTION)],
            specs[titles[0]].analyzer if titles else None,
        )


def _text_of(keys: list[str], m: dict[str, tuple[float | None, str | None]]) -> str | None:
    """The card's title or description: the first of ``keys`` that has a text."""
    for key in keys:
        if m.get(key, (None, None))[1]:
            return m[key][1]
    return None


def why_missing(runs: Iterable[AnalysisRun]) -> dict[int, dict[str, str]]:
    """Per image, why each analyzer that has run somewhere in the run left it without measurements:
    ``{image_id: {analyzer: "failed: <error>"}}``; an image an analyzer never reached is absent here
    (``title_note`` says "has not run")."""
    out: dict[int, dict[str, str]] = defaultdict(dict)
    for run in runs:
        if run.status == "failed":
            error = " ".join((run.error or "no error text").split())
            out[run.image_id][run.analyzer] = "failed: " + (error if len(error) <= 200 else error[:199] + "…")
    return out


def title_note(title: str | None, analyzer: str | None, missing: dict[str, str], ran: set[str]) -> str | None:
    """Why the card has no title, in words (None when it has one); ``analyzer`` writes titles."""
    if title:
        return None
    if analyzer is None:
        return "No title: no judge ran on this study's images (titles come from the VLM judge)."
    if analyzer in missing:
        return f"No title: the {analyzer} analyzer {missing[analyzer]}"
    if analyzer not in ran:
        return f"No title: the {analyzer} analyzer has not run on this image yet."
    return f"No title: the {analyzer} analyzer gave none for this image."


def build_card(
    row: ImageRecord,
    m: dict[str, tuple[float | None, str | None]],
    specs: Mapping[str, Spec],
    plan: CardPlan,
    verdicts: list[Verdict],
    embedded: str | None,
    missing: dict[str, str] | None = None,
    ran: set[str] | None = None,
) -> Card:
    """One card from an image row (store.images()) and its measurements; ``missing`` and ``ran``:
    analyzers that failed on it (with why) and those that handled it."""
    title = _text_of(plan.titles, m)
    return Card(
        image_id=row.id,
        model=row.model,
        seed=row.seed,
        prompt=row.prompt_text,
        fields={k: row.prompt_field(k) for k in FIELDS},
        image_src="../" + row.path,
        embedded=embedded,
        width=row.width,
        height=row.height,
        title=title,
        description=_text_of(plan.descriptions, m),
        sections=[(name, [_field(key, role, m, specs) for key, role in lines]) for name, lines in plan.sections],
        verdicts=verdicts,
        missing=dict(missing or {}),
        title_note=title_note(title, plan.title_analyzer, missing or {}, ran or set()),
    )


def image_verdicts(record: ImageAdherenceRecord | None, image_id: int) -> list[Verdict]:
    """Per-dimension outcome of one image for each method, as the scoring stage stored it."""
    if record is None:
        return []
    kinds = {(m.dimension, m.method): m.kind for m in record.methods}
    out = []
    for v in record.images.get(image_id, []):
        outcome = "not judged" if v.follows is None else ("follows" if v.follows else "misses")
        detail = ""
        if kinds.get((v.dimension, v.method)) == "label":
            seen = v.seen if v.seen is not None else "nothing"
            detail = f'asked "{" or ".join(v.requested)}", seen "{seen}"'
        out.append(Verdict(v.dimension, v.method, outcome, detail))
    return out


def gather(
    store: RunStore,
    study: Study,
    rows: list[ImageRecord],
    embedded: Mapping[str, str] | None = None,
) -> ReportData:
    """Read the whole report's data from ``store`` for the image ``rows`` (``store.images()``);
    ``embedded`` maps sha256 to the image's data URI (report.thumbs)."""
    specs = load_specs(store)
    table = store.measurement_pairs()
    try:
        score = load_score_report(store)
        record = load_image_adherence(store)
    except ValueError:  # pydantic's ValidationError too: stored by another version
        score = record = None
        stale = True
    else:
        stale = score is not None and record is None
    if stale:
        raise BadInput(
            f"{store.run_dir}: the stored score report does not match this viewfinder version; "
            f"run 'viewfinder score {store.run_dir}' again, then 'viewfinder report {store.run_dir}'"
        )
    runs = store.analysis_runs()
    missing = why_missing(runs)
    ran: dict[int, set[str]] = defaultdict(set)
    for run in runs:
        ran[run.image_id].add(run.analyzer)
    cards = []
    plan = CardPlan.of(specs)
    for row in rows:
        cards.append(
            build_card(
                row,
                table.get(row.id, {}),
                specs,
                plan,
                image_verdicts(record, row.id),
                (embedded or {}).get(row.sha256),
                missing.get(row.id),
                ran.get(row.id),
            )
        )
    return ReportData(
        study=study,
        cards=cards,
        specs=specs,
        methods=gather_methods(store, study, cards, table, specs),
        score=score,
        metric_summary=summarise_metrics(cards, table, specs),
    )


def gather_methods(
    store: RunStore,
    study: Study,
    cards: list[Card],
    table: dict[int, dict[str, tuple[float | None, str | None]]],
    specs: dict[str, Spec],
) -> Methods:
    from viewfinder import __version__

    models = Counter(c.model for c in cards)
    judges: Counter[str] = Counter()
    model_keys = [key for key, spec in specs.items() if any(isinstance(role, ModelRole) for role in spec.roles)]
    for m in table.values():
        for key in model_keys:
            name = m.get(key, (None, None))[1]
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
    failed = store.failure_groups() + store.missing_groups()
    judge_failed = sum(group.count for group in failed if group.stage == "analyze" and group.source == "judge")
    return Methods(
        not_measured=[f"{group.source}: {line}" for group, line in zip(failed, failure_lines(failed), strict=True)],
        judges_none=f"none: {judge_failed} images failed (see 'Not measured')" if judge_failed else "none",
        unpriced=store.unpriced_models(),
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


def summarise_metrics(
    cards: list[Card], table: dict[int, dict[str, tuple[float | None, str | None]]], specs: dict[str, Spec]
) -> list[dict[str, Any]]:
    """Mean, spread and count of the main numbers, per model (a descriptive table)."""
    import numpy as np

    rows = []
    by_model: dict[str, list[int]] = defaultdict(list)
    for card in cards:
        by_model[card.model].append(card.image_id)
    for key in numbers(specs):
        for model, ids in sorted(by_model.items()):
            values = np.array(
                [table[i][key][0] for i in ids if i in table and key in table[i] and table[i][key][0] is not None],
                dtype=float,
            )
            rows.append(
                {
                    "key": key,
                    "spec": specs[key],
                    "model": model,
                    "n": int(values.size),
                    "n_missing": len(ids) - int(values.size),
                    "mean": float(values.mean()) if values.size else None,
                    "sd": float(values.std(ddof=1)) if values.size > 1 else None,
                    "median": float(np.median(values)) if values.size else None,
                }
            )
    return rows


def embed_json(data: Any) -> str:
    """JSON safe inside a <script type="application/json"> element (no '</script>' break-out)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
