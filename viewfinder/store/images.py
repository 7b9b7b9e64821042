"""Stored image files: recording them for their jobs and reading them with their prompt fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from viewfinder.store.db import Database, marks
from viewfinder.store.records import ImageDates, ImageRecord, NewImage

_SELECT = (
    "SELECT p.topic, p.emotion, p.variant, p.subject, p.camera, p.category, p.scene, p.style,"  # PromptFields first
    " i.id, i.job_id, i.idx, i.sha256, i.path, i.bytes, i.format, i.width, i.height, i.model, i.seed,"
    " i.cost_usd, i.source_url, i.created_at, j.prompt_id, p.text, p.position"
    " FROM images i JOIN jobs j ON j.id = i.job_id JOIN prompts p ON p.id = j.prompt_id"
)
_ORDER = " ORDER BY p.position, i.model, i.seed, i.idx"


def add_image(db: Database, job_id: str, image: NewImage, *, model: str, seed: int | None, idx: int = 0) -> int:
    """Record a stored image file; returns its id (the existing one if already stored)."""
    with db.transaction():
        db.write(
            "INSERT INTO images(job_id, idx, sha256, path, bytes, format, width, height, model, seed, cost_usd,"
            " source_url) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(job_id, idx) DO NOTHING",
            (
                job_id,
                idx,
                image.sha256,
                image.path,
                image.size,
                image.fmt,
                image.width,
                image.height,
                model,
                seed,
                image.cost_usd,
                image.source_url,
            ),
        )
        return int(db.one("SELECT id FROM images WHERE job_id=? AND idx=?", (job_id, idx))[0])


def images(db: Database, ids: Sequence[int] | None = None) -> list[ImageRecord]:
    """Images with their job and prompt fields, in grid order (optionally only ``ids``)."""
    where = ""
    params: list[Any] = []
    if ids is not None:
        where = f" WHERE i.id IN ({marks(ids)})"
        params = list(ids)
    return [ImageRecord(*row) for row in db.rows(_SELECT + where + _ORDER, params)]


def image_count(db: Database) -> int:
    return int(db.one("SELECT COUNT(*) FROM images")[0])


def image_dates(db: Database) -> ImageDates:
    first, last = db.one("SELECT MIN(created_at), MAX(created_at) FROM images")
    return ImageDates(first, last)
