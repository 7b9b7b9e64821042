"""Per-image adherence as stored by the scoring stage: what the report's card verdicts and the
export's ``requested.*``/``adherence.*`` columns read (they never re-compute it).

Stored as compact JSON in the run's ``aggregates`` table under :data:`ADHERENCE_NAME` (one
list per image, methods by index), so reading it back for 10,000 images takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from viewfinder.score.adherence import DimensionMethod, ImageAdherence, requested
from viewfinder.store import ImageRecord
from viewfinder.study import Study

ADHERENCE_NAME = "image_adherence"
RECORD_VERSION = 1


class MethodRef(NamedTuple):
    """A dimension and the method that answers it (``method_name`` as the report says it)."""

    dimension: str
    method: str
    method_name: str
    kind: str  # "label" or "match"


class ImageVerdict(NamedTuple):
    """Whether one image follows one requested dimension according to one method."""

    dimension: str
    method: str
    follows: bool | None  # None: not judged (no face, 'unclear', no answer)
    requested: tuple[str, ...]  # the answers that count as following the prompt
    seen: str | None  # the method's stored answer as given


@dataclass(frozen=True)
class ImageAdherenceRecord:
    """Every image's verdicts, and the methods stored for the run (the export's columns)."""

    methods: tuple[MethodRef, ...] = ()
    images: dict[int, list[ImageVerdict]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        index = {(m.dimension, m.method): i for i, m in enumerate(self.methods)}
        return {
            "version": RECORD_VERSION,
            "methods": [list(m) for m in self.methods],
            "images": [
                [
                    image_id,
                    [[index[(v.dimension, v.method)], v.follows, list(v.requested), v.seen] for v in verdicts],
                ]
                for image_id, verdicts in self.images.items()
            ],
        }

    @classmethod
    def from_dict(cls, body: Any) -> ImageAdherenceRecord:
        """Read a stored record; ValueError when it was written by another version."""
        try:
            if body["version"] != RECORD_VERSION:
                raise ValueError(f"image adherence record version {body['version']}")
            methods = tuple(MethodRef(*(str(part) for part in m)) for m in body["methods"])
            images = {
                int(image_id): [
                    ImageVerdict(methods[i].dimension, methods[i].method, follows, tuple(wanted), seen)
                    for i, follows, wanted, seen in verdicts
                ]
                for image_id, verdicts in body["images"]
            }
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"unreadable image adherence record ({exc!r})") from None
        return cls(methods, images)


def image_adherence_record(
    images: Sequence[ImageRecord],
    table: Mapping[int, Mapping[str, Any]],
    items: Sequence[ImageAdherence],
    methods: Sequence[DimensionMethod],
    study: Study,
) -> ImageAdherenceRecord:
    """The stored form of ``items`` (one per row of ``images``) for the ``methods`` stored."""
    rows = {row.id: row for row in images}
    out = ImageAdherenceRecord(tuple(MethodRef(m.dimension, m.method, m.method_name, m.kind) for m in methods))
    for item in items:
        values = table.get(item.image_id, {})
        verdicts = []
        for method in methods:
            if method.key not in item.flags:
                continue
            raw = values.get(method.column)
            wanted = tuple(sorted(requested(method.dimension, rows[item.image_id], study) or ()))
            seen = None if raw is None else str(raw)
            verdicts.append(ImageVerdict(method.dimension, method.method, item.flags[method.key], wanted, seen))
        out.images[item.image_id] = verdicts
    return out


def load_image_adherence(store: Any) -> ImageAdherenceRecord | None:
    """The stored per-image adherence of a run (``RunStore``), or None before scoring ran;
    ValueError when it was stored by another version (score again)."""
    body = store.aggregate(ADHERENCE_NAME)
    return None if body is None else ImageAdherenceRecord.from_dict(body)
