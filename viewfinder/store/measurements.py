"""Measurement specs, measurements and per-image analyzer outcomes (done / failed)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from viewfinder.store.db import Database, marks
from viewfinder.store.records import (
    AnalysisRun,
    AnalyzerRuns,
    CachedAnswer,
    Measurement,
    StoredMeasurement,
)
from viewfinder.store.specs import MeasurementSpec, StoredSpec, roles_from_json, roles_to_json


def register_specs(db: Database, analyzer: str, version: str, specs: Iterable[MeasurementSpec]) -> None:
    db.write_many(
        "INSERT INTO measurement_specs(analyzer, version, name, unit, better, description, roles)"
        " VALUES (?,?,?,?,?,?,?) ON CONFLICT(analyzer, name) DO UPDATE SET version=excluded.version,"
        " unit=excluded.unit, better=excluded.better, description=excluded.description, roles=excluded.roles",
        [
            (analyzer, version, spec.name, spec.unit, spec.better.value, spec.description, roles_to_json(spec.roles))
            for spec in specs
        ],
    )


def spec_records(db: Database) -> list[StoredSpec]:
    """Every registered spec with its roles, in analyzer, then name order."""
    rows = db.rows(
        "SELECT analyzer, version, name, unit, better, description, roles FROM measurement_specs"
        " ORDER BY analyzer, name"
    )
    return [
        StoredSpec(analyzer, version, MeasurementSpec(name, unit, better, description, roles_from_json(roles)))
        for analyzer, version, name, unit, better, description, roles in rows
    ]


def specs(db: Database) -> dict[tuple[str, str], StoredSpec]:
    """Every registered spec by (analyzer, name)."""
    return {(stored.analyzer, stored.name): stored for stored in spec_records(db)}


def analyzed_image_ids(
    db: Database, analyzer: str, version: str | None = None, include_failed: bool = False
) -> set[int]:
    """Images this analyzer (this version, or any when None) already handled: done, and
    failed when asked."""
    statuses = ("done", "failed") if include_failed else ("done",)
    sql = f"SELECT image_id FROM analysis_runs WHERE analyzer=? AND status IN ({marks(statuses)})"
    params: list[Any] = [analyzer, *statuses]
    if version is not None:
        sql += " AND version=?"
        params.append(version)
    return {row[0] for row in db.rows(sql, params)}


def write_analysis(
    db: Database,
    analyzer: str,
    version: str,
    measurements: Sequence[Measurement],
    done_ids: Iterable[int],
    failures: dict[int, str] | None = None,
    missing: dict[int, dict[str, str]] | None = None,
) -> None:
    """Store one batch of an analyzer's results in one transaction; ``missing`` holds, per
    measured image, the measurements it lacks and why (``{image_id: {name: reason}}``)."""
    done = list(done_ids)
    measured = set(done)
    with db.transaction():
        db.write_many("DELETE FROM measurements WHERE image_id=? AND analyzer=?", [(i, analyzer) for i in done])
        db.write_many(
            "DELETE FROM missing_measurements WHERE image_id=? AND analyzer=?",
            [(i, analyzer) for i in [*done, *(failures or {})]],
        )
        db.write_many(
            "INSERT INTO missing_measurements(image_id, analyzer, version, name, reason) VALUES (?,?,?,?,?)",
            [
                (image_id, analyzer, version, name, reason)
                for image_id, gaps in (missing or {}).items()
                if image_id in measured
                for name, reason in gaps.items()
            ],
        )
        db.write_many(
            "INSERT OR REPLACE INTO measurements(image_id, analyzer, version, name, value, text) VALUES (?,?,?,?,?,?)",
            [(m.image_id, analyzer, version, m.name, m.value, m.text) for m in measurements],
        )
        db.write_many(
            "INSERT OR REPLACE INTO analysis_runs(image_id, analyzer, version, status, error) VALUES (?,?,?,?,NULL)",
            [(image_id, analyzer, version, "done") for image_id in done],
        )
        db.write_many(
            "INSERT OR REPLACE INTO analysis_runs(image_id, analyzer, version, status, error) VALUES (?,?,?,?,?)",
            [(image_id, analyzer, version, "failed", error) for image_id, error in (failures or {}).items()],
        )


def measurements(db: Database, analyzer: str | None = None) -> list[StoredMeasurement]:
    """Stored measurements (of one analyzer, or all) by image, analyzer and name."""
    sql = "SELECT image_id, analyzer, version, name, value, text FROM measurements"
    order = " ORDER BY image_id, analyzer, name"
    rows = db.rows(sql + " WHERE analyzer=?" + order, (analyzer,)) if analyzer else db.rows(sql + order)
    return [StoredMeasurement(*row) for row in rows]


def measurement_table(db: Database) -> dict[int, dict[str, Any]]:
    """``{image_id: {"analyzer.name": value or text}}`` for every stored measurement."""
    out: dict[int, dict[str, Any]] = {}
    for m in measurements(db):
        out.setdefault(m.image_id, {})[f"{m.analyzer}.{m.name}"] = m.value if m.value is not None else m.text
    return out


def measurement_pairs(db: Database) -> dict[int, dict[str, tuple[float | None, str | None]]]:
    """``{image_id: {"analyzer.name": (value, text)}}``: both parts of every measurement."""
    out: dict[int, dict[str, tuple[float | None, str | None]]] = {}
    for image_id, analyzer, name, value, text in db.rows(
        "SELECT image_id, analyzer, name, value, text FROM measurements"
    ):
        out.setdefault(image_id, {})[f"{analyzer}.{name}"] = (value, text)
    return out


def cached_answers(db: Database, analyzer: str, version: str, hashes: Iterable[str]) -> list[CachedAnswer]:
    """Measurements this analyzer version made (and finished) for image files with these
    hashes, with each image's prompt text, by image id."""
    wanted = sorted(set(hashes))
    if not wanted:
        return []
    rows = db.rows(
        "SELECT i.sha256, p.text, m.image_id, m.name, m.value, m.text FROM measurements m"
        " JOIN images i ON i.id = m.image_id JOIN jobs j ON j.id = i.job_id JOIN prompts p ON p.id = j.prompt_id"
        " JOIN analysis_runs r ON r.image_id = m.image_id AND r.analyzer = m.analyzer"
        "  AND r.version = m.version AND r.status = 'done'"
        f" WHERE m.analyzer = ? AND m.version = ? AND i.sha256 IN ({marks(wanted)})"
        " ORDER BY m.image_id",
        (analyzer, version, *wanted),
    )
    return [CachedAnswer(*row) for row in rows]


def analyzer_runs(db: Database) -> list[AnalyzerRuns]:
    """Images done and failed per analyzer version, in analyzer, then version order."""
    rows = db.rows(
        "SELECT analyzer, version, SUM(status='done'), SUM(status='failed') FROM analysis_runs"
        " GROUP BY analyzer, version ORDER BY analyzer, version"
    )
    return [AnalyzerRuns(analyzer, version, done or 0, failed or 0) for analyzer, version, done, failed in rows]


def analysis_runs(db: Database, analyzer: str | None = None) -> list[AnalysisRun]:
    """Each image's outcome per analyzer (of one analyzer, or all), by image."""
    sql = "SELECT image_id, analyzer, version, status, error FROM analysis_runs"
    order = " ORDER BY image_id, analyzer"
    rows = db.rows(sql + " WHERE analyzer=?" + order, (analyzer,)) if analyzer else db.rows(sql + order)
    return [AnalysisRun(*row) for row in rows]
