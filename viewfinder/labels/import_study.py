"""The study an imported run carries, built from its prompts, so every later stage (analyze,
score, report, export) opens it like a generated run.

Prompts in the grammar give the emotions, cases, camera positions and styles; an emotion
whose name is itself a facial expression ("Happiness", "fear") counts that expression as
showing it, others list none (the report then says emotion adherence is not scored for it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from viewfinder.store import ImageRecord
from viewfinder.study.schema import DEFAULT_TEMPLATE
from viewfinder.study.vocabulary import canonical_expression, parse_camera

FREE_EMOTION = "(free prompts)"


def _toml(value: Any) -> str:
    """A TOML value (JSON strings, numbers and arrays are valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def study_toml(name: str, images: Iterable[ImageRecord], source: str) -> str:
    """The TOML of the study of an imported run whose images (``RunStore.images`` rows) are given."""
    rows = list(images)
    parsed = [row for row in rows if row.emotion]
    topic = parsed[0].topic if parsed else "imported"
    cameras = list(dict.fromkeys(row.camera for row in parsed if parse_camera(row.camera)))
    styles = list(dict.fromkeys(row.style for row in parsed)) or ["imported"]
    models = list(dict.fromkeys(row.model for row in rows)) or ["import:unknown"]
    seeds = sorted({row.seed for row in rows if row.seed is not None}) or [0]
    lines = [
        f"name = {_toml(name)}",
        f"topic = {_toml(topic)}",
        f"description = {_toml(f'Images imported from {source}.')}",
        f"template = {_toml(DEFAULT_TEMPLATE)}",
        f"cameras = {_toml(cameras or ['eye-level'])}",
        f"styles = {_toml(styles)}",
        f"models = {_toml(models)}",
        f"seeds = {_toml(seeds)}",
    ]
    emotions: dict[str, dict[tuple[str, str, str, str], None]] = {}
    for row in parsed:
        emotions.setdefault(row.emotion, {})[(row.variant, row.subject, row.category, row.scene)] = None
    if not emotions:  # a study needs one emotion; free prompts ask for none
        emotions[FREE_EMOTION] = {("free prompt", "-", "-", "-"): None}
    for emotion, cases in emotions.items():
        expression = canonical_expression(emotion)
        lines += [
            "",
            "[[emotions]]",
            f"name = {_toml(emotion)}",
            f"expressions = {_toml([expression] if expression else [])}",
        ]
        for variant, subject, category, scene in cases:
            lines += [
                "[[emotions.cases]]",
                f"variant = {_toml(variant)}",
                f"subject = {_toml(subject)}",
                f"category = {_toml(category)}",
                f"scene = {_toml(scene)}",
            ]
    return "\n".join(lines) + "\n"
