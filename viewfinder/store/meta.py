"""Run-level key/values, versioned texts kept with the run, and stored aggregates (scores)."""

from __future__ import annotations

import json
from typing import Any

from viewfinder.store.db import NOW, Database


def set_meta(db: Database, key: str, value: Any) -> None:
    db.write(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        (key, json.dumps(value)),
    )


def get_meta(db: Database, key: str, default: Any = None) -> Any:
    rows = db.rows("SELECT value FROM meta WHERE key=?", (key,))
    return json.loads(rows[0][0]) if rows else default


def save_text(db: Database, kind: str, version: str, body: str) -> None:
    """Keep a versioned text (a judge prompt, the study file) with the run."""
    db.write(
        "INSERT INTO texts(kind, version, body) VALUES (?, ?, ?) ON CONFLICT(kind, version) DO UPDATE SET"
        " body=excluded.body",
        (kind, version, body),
    )


def texts(db: Database, kind: str) -> dict[str, str]:
    """The bodies of one kind of text by version."""
    return {version: body for version, body in db.rows("SELECT version, body FROM texts WHERE kind=?", (kind,))}


def text_versions(db: Database) -> list[tuple[str, str]]:
    """Every stored (kind, version), sorted."""
    return [(kind, version) for kind, version in db.rows("SELECT kind, version FROM texts ORDER BY kind, version")]


def save_aggregate(db: Database, name: str, body: Any) -> None:
    db.write(
        f"INSERT INTO aggregates(name, body) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET body=excluded.body,"
        f" created_at={NOW}",
        (name, json.dumps(body)),
    )


def aggregate(db: Database, name: str) -> Any:
    rows = db.rows("SELECT body FROM aggregates WHERE name=?", (name,))
    return json.loads(rows[0][0]) if rows else None
