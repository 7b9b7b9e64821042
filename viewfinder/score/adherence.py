"""Per-image adherence: does an image follow each prompt dimension, according to each method?

A flag is ``True`` (follows), ``False`` (does not), or ``None`` (not judged: no face, an
"unclear" answer, or a missing measurement). A dimension the prompt does not request (a
camera with no shot size, an emotion that lists no facial expressions) is absent, so it is
neither counted nor "not judged".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from viewfinder.store import AdherenceRole, ImageRecord, StoredSpec
from viewfinder.study import Study
from viewfinder.study.vocabulary import (
    NO_FACE,
    UNCLEAR,
    canonical_angle,
    canonical_expression,
    canonical_shot_size,
    parse_camera,
)

FACTORS: tuple[str, ...] = ("category", "emotion", "camera", "style")


@dataclass(frozen=True)
class DimensionMethod:
    """One way to judge one dimension: the measurement it reads and how to read it."""

    dimension: str
    method: str
    column: str  # measurement column "analyzer.name"
    kind: str  # "label": compare a canonical label with the request; "match": a stored 1/0
    label: str
    measures: str
    method_name: str = ""  # as the report says it, e.g. "VLM judge"

    @property
    def key(self) -> tuple[str, str]:
        """(dimension, method): the key of this method's answer and flag in :class:`ImageAdherence`."""
        return (self.dimension, self.method)


def dimension_methods(specs: Iterable[StoredSpec]) -> tuple[DimensionMethod, ...]:
    """Every adherence answer the registered ``specs`` declare, in their declared order."""
    found = []
    for stored in specs:
        for role in stored.spec.roles:
            if isinstance(role, AdherenceRole):
                method = DimensionMethod(
                    role.dimension.value,
                    role.method,
                    stored.key,
                    role.reading.value,
                    role.label,
                    role.measures,
                    role.method_name,
                )
                found.append((role.order, stored.key, method))
    return tuple(method for _, _, method in sorted(found, key=lambda entry: entry[:2]))


_parse_camera = lru_cache(maxsize=4096)(parse_camera)  # a study repeats a few camera texts many times

_CANON: dict[str, Callable[[str], str | None]] = {
    "camera_angle": canonical_angle,
    "shot_size": canonical_shot_size,
    "emotion": canonical_expression,
}


@dataclass
class ImageAdherence:
    """One image: its grid factors, each method's answer (canonical label) and adherence flag."""

    image_id: int
    model: str
    seed: int | None
    prompt_id: str
    idx: int
    factors: dict[str, str]
    flags: dict[tuple[str, str], bool | None] = field(default_factory=dict)
    answers: dict[tuple[str, str], str | None] = field(default_factory=dict)
    reasons: dict[tuple[str, str], str] = field(default_factory=dict)  # why a flag is None
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def pair_key(self) -> tuple[str, int | None, int]:
        """Images of different models with the same key saw the same prompt and seed."""
        return (self.prompt_id, self.seed, self.idx)


def requested(dimension: str, row: ImageRecord, study: Study) -> set[str] | None:
    """What the prompt asks for on ``dimension`` (a set of accepted answers); None if nothing."""
    if dimension in ("camera_angle", "shot_size"):
        camera = _parse_camera(row.camera or "")
        if camera is None:
            return None
        wanted = camera.angle if dimension == "camera_angle" else camera.shot_size
        return {wanted} if wanted else None
    if dimension == "emotion":
        try:
            expressions = study.emotion(row.emotion).expressions
        except KeyError:
            return None
        return set(expressions) or None
    # scene and style: the judge answers the match question itself (a free prompt asks for none)
    return {"1"} if row.prompt_field(dimension) else None


def read_answer(method: DimensionMethod, raw: Any) -> str | None:
    """The method's answer as a canonical label ("1"/"0" for match questions); None = not judged."""
    if raw is None:
        return None
    if method.kind == "match":
        word = str(raw).strip().lower()
        if word in ("yes", "true", "no", "false"):
            return "1" if word in ("yes", "true") else "0"
        try:
            return "1" if float(raw) >= 0.5 else "0"
        except (TypeError, ValueError):
            return None
    return _CANON[method.dimension](str(raw))


def not_judged_reason(raw: Any) -> str:
    """Why an answer could not be judged: 'no face', 'unclear', 'no answer' or 'unreadable answer'."""
    if raw is None:
        return "no answer"
    text = str(raw).strip().lower()
    return text if text in (NO_FACE, UNCLEAR) else "unreadable answer"


def image_adherence(
    images: list[ImageRecord],
    table: Mapping[int, Mapping[str, Any]],
    study: Study,
    methods: tuple[DimensionMethod, ...],
    score_columns: tuple[str, ...] = (),
) -> list[ImageAdherence]:
    """Adherence of every image (``images`` rows of ``RunStore.images``, ``table`` from
    ``RunStore.measurement_table``) for each dimension and method in ``methods``."""
    out = []
    for row in images:
        values = table.get(row.id, {})
        item = ImageAdherence(
            image_id=row.id,
            model=row.model,
            seed=row.seed,
            prompt_id=row.prompt_id,
            idx=row.idx,
            factors={name: row.prompt_field(name) for name in FACTORS},
        )
        for method in methods:
            wanted = requested(method.dimension, row, study)
            if wanted is None:
                continue
            raw = values.get(method.column)
            answer = read_answer(method, raw)
            item.answers[method.key] = answer
            item.flags[method.key] = None if answer is None else answer in wanted
            if answer is None:
                item.reasons[method.key] = not_judged_reason(raw)
        for column in score_columns:
            value = values.get(column)
            if isinstance(value, (int, float)):
                item.scores[column] = float(value)
        out.append(item)
    return out


def present_methods(
    table: Mapping[int, Mapping[str, Any]],
    specs: Iterable[StoredSpec],
) -> tuple[DimensionMethod, ...]:
    """The dimension methods (declared by ``specs``) whose measurement was stored for at least one image."""
    columns = {column for values in table.values() for column in values}
    return tuple(method for method in dimension_methods(specs) if method.column in columns)
