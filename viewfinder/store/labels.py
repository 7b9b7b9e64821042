"""Reference labels, imported images' sources and review samples: the store side (all SQL here).

A label is one person's canonical answer for one image and one dimension; a labeller answering
again replaces their own answer, never another labeller's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from viewfinder.store.run_store import RunStore

LABEL_DIMENSIONS: tuple[str, ...] = ("camera_angle", "shot_size", "expression", "scene_match", "style_match")


@dataclass(frozen=True)
class Label:
    """One labeller's canonical answer for one image on one dimension."""

    image_id: int
    dimension: str
    labeller: str
    answer: str
    source: str = "csv"  # 'csv' or 'review'
    created_at: str = ""


def add_labels(store: RunStore, labels: Iterable[Label]) -> int:
    """Insert or replace labels (keyed by image, dimension, labeller); returns how many were written."""
    rows = [(lab.image_id, lab.dimension, lab.labeller, lab.answer, lab.source) for lab in labels]
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO labels(image_id, dimension, labeller, answer, source) VALUES (?,?,?,?,?)"
            " ON CONFLICT(image_id, dimension, labeller) DO UPDATE SET answer=excluded.answer,"
            " source=excluded.source, created_at=strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            rows,
        )
    return len(rows)


def labels(store: RunStore, labeller: str | None = None) -> list[Label]:
    """Every stored label (or one labeller's), by image, dimension and labeller."""
    sql = "SELECT image_id, dimension, labeller, answer, source, created_at FROM labels"
    params: tuple[str, ...] = ()
    if labeller is not None:
        sql += " WHERE labeller=?"
        params = (labeller,)
    rows = store.query(sql + " ORDER BY image_id, dimension, labeller", params)
    return [
        Label(r["image_id"], r["dimension"], r["labeller"], r["answer"], r["source"], r["created_at"])
        for r in rows
    ]


def set_sources(store: RunStore, sources: dict[int, str]) -> None:
    """Remember where imported images came from (their path in the imported folder)."""
    with store.transaction() as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO image_sources(image_id, source) VALUES (?, ?)",
            list(sources.items()),
        )


def image_keys(store: RunStore) -> dict[str, int]:
    """Every name that identifies an image in a labels file: its imported path, its path in the
    run folder, its sha256 and its id."""
    keys: dict[str, int] = {}
    for row in store.query("SELECT id, sha256, path FROM images ORDER BY id"):
        keys.setdefault(str(row["id"]), row["id"])
        keys.setdefault(row["sha256"], row["id"])
        keys.setdefault(row["path"], row["id"])
    for row in store.query("SELECT image_id, source FROM image_sources"):
        keys[row["source"]] = row["image_id"]
    return keys


def sources(store: RunStore) -> dict[int, str]:
    """``{image_id: imported path}`` of imported images."""
    return {r["image_id"]: r["source"] for r in store.query("SELECT image_id, source FROM image_sources")}


def save_sample(store: RunStore, name: str, image_ids: Sequence[int]) -> None:
    """Store the review sample ``name`` (replacing an earlier one of that name)."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM review_samples WHERE name=?", (name,))
        conn.executemany(
            "INSERT INTO review_samples(name, position, image_id) VALUES (?,?,?)",
            [(name, position, image_id) for position, image_id in enumerate(image_ids)],
        )


def sample(store: RunStore, name: str) -> list[int]:
    """The stored review sample ``name`` in its order ([] when none is stored)."""
    rows = store.query("SELECT image_id FROM review_samples WHERE name=? ORDER BY position", (name,))
    return [r["image_id"] for r in rows]
