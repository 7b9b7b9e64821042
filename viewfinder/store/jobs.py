"""Prompts and image jobs: adding the grid, selecting work, and each job's state changes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from viewfinder.store.db import NOW, Database, marks
from viewfinder.store.records import JOB_STATES, DroppedJobs, JobRecord
from viewfinder.study.grid import Job

_SELECT = (
    "SELECT j.id, j.prompt_id, j.model, j.seed, j.params, j.state, j.attempts, j.request_id, j.request,"
    " j.response, j.last_error, j.cost_usd, j.created_at, j.updated_at, p.text, p.position"
    " FROM jobs j JOIN prompts p ON p.id = j.prompt_id"
)
_ORDER = " ORDER BY p.position, j.model, j.seed"
_CHUNK = 500  # ids per IN (...) list, well under SQLite's limit on bound parameters
_JSON_COLUMNS = (4, 8, 9)  # j.params, j.request, j.response


def add_jobs(db: Database, jobs: Iterable[Job]) -> int:
    """Insert prompts and jobs not yet stored; return how many jobs were new."""
    new = 0
    with db.transaction():
        for job in jobs:
            p = job.prompt
            db.write(
                "INSERT OR IGNORE INTO prompts(id, position, text, topic, emotion, variant, subject, camera,"
                " category, scene, style) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    p.id,
                    p.position,
                    p.text,
                    p.topic,
                    p.emotion,
                    p.variant,
                    p.subject,
                    p.camera,
                    p.category,
                    p.scene,
                    p.style,
                ),
            )
            cur = db.write(
                "INSERT OR IGNORE INTO jobs(id, prompt_id, model, seed, params) VALUES (?,?,?,?,?)",
                (job.id, p.id, job.model, job.seed, json.dumps(job.params, sort_keys=True)),
            )
            new += cur.rowcount
    return new


def jobs(db: Database, states: Sequence[str] | None = None, ids: Sequence[str] | None = None) -> list[JobRecord]:
    """Jobs joined with their prompt text, in grid order (optionally only these states or ids)."""
    clauses: list[str] = []
    params: list[Any] = []
    if states:
        clauses.append(f"j.state IN ({marks(states)})")
        params += list(states)
    if ids:
        clauses.append(f"j.id IN ({marks(ids)})")
        params += list(ids)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    return [_job(row) for row in db.rows(_SELECT + where + _ORDER, params)]


def mark_submitted(
    db: Database,
    job_id: str,
    *,
    request_id: str,
    request: dict[str, Any],
    response: dict[str, Any],
    attempts: int,
) -> None:
    """The provider accepted the job: keep its request id and URLs before any waiting."""
    db.write(
        f"UPDATE jobs SET state='submitted', request_id=?, request=?, response=?, attempts=?, last_error=NULL,"
        f" updated_at={NOW} WHERE id=?",
        (request_id, json.dumps(request), json.dumps(response), attempts, job_id),
    )


def complete_job(
    db: Database, job_id: str, *, response: dict[str, Any] | None = None, cost_usd: float | None = None
) -> None:
    db.write(
        f"UPDATE jobs SET state='completed', response=COALESCE(?, response), cost_usd=COALESCE(?, cost_usd),"
        f" last_error=NULL, updated_at={NOW} WHERE id=?",
        (None if response is None else json.dumps(response), cost_usd, job_id),
    )


def fail_job(db: Database, job_id: str, error: str, *, attempts: int | None = None) -> None:
    db.write(
        f"UPDATE jobs SET state='failed', last_error=?, attempts=COALESCE(?, attempts), updated_at={NOW} WHERE id=?",
        (error, attempts, job_id),
    )


def job_counts(db: Database) -> dict[str, int]:
    """Jobs per state (every state present, zero when none)."""
    counts: dict[str, int] = dict.fromkeys(JOB_STATES, 0)
    for state, n in db.rows("SELECT state, COUNT(*) FROM jobs GROUP BY state"):
        counts[state] = n
    return counts


def drop_jobs(db: Database, job_ids: Sequence[str]) -> DroppedJobs:
    """Delete these jobs, their image rows, those images' measurements and analysis outcomes,
    prompts no job uses any more and the stored scores (they counted the dropped images), in one
    transaction. Image files and the cost ledger stay: the money was spent."""
    by_model: dict[str, int] = {}
    images = measurements = runs = 0
    with db.transaction():
        for start in range(0, len(job_ids), _CHUNK):
            chunk = list(job_ids[start : start + _CHUNK])
            where = f"IN ({marks(chunk)})"
            image_where = f"image_id IN (SELECT id FROM images WHERE job_id {where})"
            for model, count in db.rows(f"SELECT model, COUNT(*) FROM jobs WHERE id {where} GROUP BY model", chunk):
                by_model[model] = by_model.get(model, 0) + count
            measurements += db.write(f"DELETE FROM measurements WHERE {image_where}", chunk).rowcount
            runs += db.write(f"DELETE FROM analysis_runs WHERE {image_where}", chunk).rowcount
            images += db.write(f"DELETE FROM images WHERE job_id {where}", chunk).rowcount
            db.write(f"DELETE FROM jobs WHERE id {where}", chunk)
        db.write("DELETE FROM prompts WHERE id NOT IN (SELECT prompt_id FROM jobs)")
        if by_model:
            db.write("DELETE FROM aggregates")
    return DroppedJobs(sum(by_model.values()), images, measurements, runs, dict(sorted(by_model.items())))


def _job(row: sqlite3.Row) -> JobRecord:
    """A job from its row in ``_SELECT`` order; params, request and response are stored as JSON."""
    values = list(row)
    for index in _JSON_COLUMNS:
        values[index] = json.loads(values[index]) if values[index] else None
    return JobRecord(*values)
