"""Per-image adherence as stored by the scoring stage: what the report's card verdicts and the
export's ``requested.*``/``adherence.*`` columns read (they never re-compute it).

Stored as JSON in the run's ``aggregates`` table under :data:`ADHERENCE_NAME`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from viewfinder.score.adherence import DimensionMethod, ImageAdherence, requested
from viewfinder.study import Study

ADHERENCE_NAME = "image_adherence"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class MethodRef(_Model):
    """A dimension and the method that answers it (``method_name`` as the report says it)."""

    dimension: str
    method: str
    method_name: str = ""
    kind: str = "label"


class ImageVerdict(_Model):
    """Whether one image follows one requested dimension according to one method."""

    dimension: str
    method: str
    follows: bool | None = Field(description="None: not judged (no face, 'unclear', no answer)")
    requested: list[str] = Field(description="the answers that count as following the prompt")
    seen: str | None = Field(description="the method's stored answer as given")


class ImageAdherenceRecord(_Model):
    """Every image's verdicts, and the methods stored for the run (export columns)."""

    methods: list[MethodRef] = Field(default_factory=list)
    images: dict[int, list[ImageVerdict]] = Field(default_factory=dict)


def image_adherence_record(
    images: Sequence[Mapping[str, Any]],
    table: Mapping[int, Mapping[str, Any]],
    items: Sequence[ImageAdherence],
    methods: Sequence[DimensionMethod],
    study: Study,
) -> ImageAdherenceRecord:
    """The stored form of ``items`` (one per row of ``images``) for the ``methods`` stored."""
    rows = {row["id"]: row for row in images}
    out = ImageAdherenceRecord(
        methods=[
            MethodRef(dimension=m.dimension, method=m.method, method_name=m.method_name, kind=m.kind)
            for m in methods
        ],
    )
    for item in items:
        verdicts = []
        for method in methods:
            if method.key not in item.flags:
                continue
            raw = table.get(item.image_id, {}).get(method.column)
            verdicts.append(
                ImageVerdict(
                    dimension=method.dimension,
                    method=method.method,
                    follows=item.flags[method.key],
                    requested=sorted(requested(method.dimension, rows[item.image_id], study) or ()),
                    seen=None if raw is None else str(raw),
                )
            )
        out.images[item.image_id] = verdicts
    return out


def load_image_adherence(store: Any) -> ImageAdherenceRecord | None:
    """The stored per-image adherence of a run (``RunStore``), or None before scoring ran."""
    body = store.aggregate(ADHERENCE_NAME)
    return None if body is None else ImageAdherenceRecord.model_validate(body)
