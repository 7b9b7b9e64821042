"""Prompts and image jobs: adding the grid, selecting work, and each job's state changes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from viewfinder.store.db import NOW, Database, marks
from viewfinder.store.records import JOB_STATES, JobRecord
from viewfinder.study.grid import Job

_SELECT = (
    "SELECT j.id, j.prompt_id, j.model, j.seed, j.params, j.state, j.attempts, j.request_id, j.request,"
    " j.response, j.last_error, j.cost_usd, j.created_at, j.updated_at, p.text, p.position"
    " FROM jobs j JOIN prompts p ON p.id = j.prompt_id"
)
_ORDER = " ORDER BY p.position, j.model, j.seed"
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


def jobs(
    db: Database, states: Sequence[str] | None = None, ids: Sequence[str] | None = None
) -> list[JobRecord]:
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


def jobs_to_run(db: Database, limit: int | None = None) -> list[JobRecord]:
    """Jobs still to do: submitted ones first (already paid for), then pending and failed, in
    grid order; at most ``limit``."""
    todo = jobs(db, states=["submitted", "pending", "failed"])
    todo.sort(key=lambda job: job.state != "submitted")
    return todo[:limit] if limit else todo


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
        f"UPDATE jobs SET state='failed', last_error=?, attempts=COALESCE(?, attempts), updated_at={NOW}"
        " WHERE id=?",
        (error, attempts, job_id),
    )


def job_counts(db: Database) -> dict[str, int]:
    """Jobs per state (every state present, zero when none)."""
    counts: dict[str, int] = dict.fromkeys(JOB_STATES, 0)
    for state, n in db.rows("SELECT state, COUNT(*) FROM jobs GROUP BY state"):
        counts[state] = n
    return counts


def _job(row: sqlite3.Row) -> JobRecord:
    """A job from its row in ``_SELECT`` order; params, request and response are stored as JSON."""
    values = list(row)
    for index in _JSON_COLUMNS:
        values[index] = json.loads(values[index]) if values[index] else None
    return JobRecord(*values)
