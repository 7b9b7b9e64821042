"""Reference labels, imported images' sources and review samples: the store side (all SQL here).

A label is one person's canonical answer for one image and one dimension; a labeller answering
again replaces their own answer, never another labeller's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from viewfinder.store.db import NOW, Database
from viewfinder.store.records import Label

LABEL_DIMENSIONS: tuple[str, ...] = ("camera_angle", "shot_size", "expression", "scene_match", "style_match")
NO_LABELS = "0:"  # the labels stamp of a run with no labels


def add_labels(db: Database, labels: Iterable[Label]) -> int:
    """Store labels; a labeller's new answer for an image and dimension replaces their old one
    (keyed by image, dimension, labeller). Returns how many were written."""
    rows = [(lab.image_id, lab.dimension, lab.labeller, lab.answer, lab.source) for lab in labels]
    db.write_many(
        "INSERT INTO labels(image_id, dimension, labeller, answer, source) VALUES (?,?,?,?,?)"
        " ON CONFLICT(image_id, dimension, labeller) DO UPDATE SET answer=excluded.answer,"
        f" source=excluded.source, created_at={NOW}",
        rows,
    )
    return len(rows)


def labels(db: Database, labeller: str | None = None) -> list[Label]:
    """Every stored label (or one labeller's), by image, dimension and labeller."""
    sql = "SELECT image_id, dimension, labeller, answer, source, created_at FROM labels"
    params: tuple[str, ...] = ()
    if labeller is not None:
        sql += " WHERE labeller=?"
        params = (labeller,)
    return [Label(*row) for row in db.rows(sql + " ORDER BY image_id, dimension, labeller", params)]


def labels_stamp(db: Database) -> str:
    """Changes whenever a label is added or replaced (how many there are and the latest time), so a
    stored result computed from the labels can tell that it is out of date."""
    count, latest = db.one("SELECT COUNT(*), MAX(created_at) FROM labels")
    return f"{count}:{latest or ''}" if count else NO_LABELS


def set_sources(db: Database, sources: dict[int, str]) -> None:
    """Remember where imported images came from (their path in the imported folder)."""
    db.write_many("INSERT OR IGNORE INTO image_sources(image_id, source) VALUES (?, ?)", list(sources.items()))


def sources(db: Database) -> dict[int, str]:
    """``{image_id: imported path}`` of imported images."""
    return {int(image_id): str(source) for image_id, source in db.rows("SELECT image_id, source FROM image_sources")}


def image_keys(db: Database) -> dict[str, int]:
    """Every name that identifies an image in a labels file: its imported path, its path in the
    run folder, its sha256 and its id."""
    keys: dict[str, int] = {}
    for image_id, digest, path in db.rows("SELECT id, sha256, path FROM images ORDER BY id"):
        keys.setdefault(str(image_id), image_id)
        keys.setdefault(digest, image_id)
        keys.setdefault(path, image_id)
    keys.update({source: image_id for image_id, source in sources(db).items()})
    return keys


def save_sample(db: Database, name: str, image_ids: Sequence[int]) -> None:
    """Store the review sample ``name`` (replacing an earlier one of that name)."""
    with db.transaction():
        db.write("DELETE FROM review_samples WHERE name=?", (name,))
        db.write_many(
            "INSERT INTO review_samples(name, position, image_id) VALUES (?,?,?)",
            [(name, position, image_id) for position, image_id in enumerate(image_ids)],
        )


def sample(db: Database, name: str) -> list[int]:
    """The stored review sample ``name`` in its order ([] when none is stored)."""
    rows = db.rows("SELECT image_id FROM review_samples WHERE name=? ORDER BY position", (name,))
    return [int(row[0]) for row in rows]
