"""The cost ledger: every paid call (generation or judge), its totals and its entries."""

from __future__ import annotations

import json
from typing import Any

from viewfinder.store.db import Database
from viewfinder.store.records import CostTotal, LedgerEntry


def add_cost(
    db: Database,
    kind: str,
    model: str,
    usd: float,
    *,
    job_id: str | None = None,
    image_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    db.write(
        "INSERT INTO ledger(kind, model, job_id, image_id, usd, detail) VALUES (?,?,?,?,?,?)",
        (kind, model, job_id, image_id, usd, json.dumps(detail) if detail else None),
    )


def total_cost(db: Database, kind: str | None = None) -> float:
    """USD spent so far (of one kind, or in all)."""
    if kind:
        return float(db.one("SELECT COALESCE(SUM(usd), 0) FROM ledger WHERE kind=?", (kind,))[0])
    return float(db.one("SELECT COALESCE(SUM(usd), 0) FROM ledger")[0])


def cost_totals(db: Database) -> list[CostTotal]:
    """Spending per kind and model, in kind, then model order."""
    rows = db.rows("SELECT kind, model, SUM(usd), COUNT(*) FROM ledger GROUP BY kind, model ORDER BY kind, model")
    return [CostTotal(kind, model, float(usd), n) for kind, model, usd, n in rows]


def ledger(db: Database, kind: str | None = None) -> list[LedgerEntry]:
    """Ledger entries in the order they were written."""
    sql = "SELECT id, kind, model, job_id, image_id, usd, detail, created_at FROM ledger"
    rows = db.rows(sql + " WHERE kind=? ORDER BY id", (kind,)) if kind else db.rows(sql + " ORDER BY id")
    return [
        LedgerEntry(id_, k, model, job_id, image_id, usd, json.loads(detail) if detail else None, created)
        for id_, k, model, job_id, image_id, usd, detail, created in rows
    ]


def unpriced_models(db: Database) -> list[str]:
    """Models with ledger entries booked without a known price (``detail.price`` "unpriced" or
    "unknown..."): their $0 is not what they cost."""
    rows = db.rows(
        "SELECT DISTINCT model FROM ledger WHERE json_extract(detail, '$.price') = 'unpriced'"
        " OR json_extract(detail, '$.price') LIKE 'unknown%' ORDER BY model"
    )
    return [row[0] for row in rows]
