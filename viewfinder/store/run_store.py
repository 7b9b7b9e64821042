"""The run store: one SQLite database per run folder, shared by every pipeline stage."""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from viewfinder.errors import BadInput
from viewfinder.store.schema import MIGRATIONS, SCHEMA_VERSION
from viewfinder.store.specs import MeasurementSpec, StoredSpec, roles_from_json, roles_to_json
from viewfinder.study.grid import Job

DB_NAME = "viewfinder.sqlite"
JOB_STATES = ("pending", "submitted", "completed", "failed")


@dataclass(frozen=True)
class Measurement:
    """One value an analyzer made for one image (a number, a text, or both)."""

    image_id: int
    name: str
    value: float | None = None
    text: str | None = None


class RunStore:
    """Typed access to ``<run_dir>/viewfinder.sqlite`` (WAL, foreign keys, migrations)."""

    def __init__(self, run_dir: str | Path, *, create: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / DB_NAME
        if not self.path.exists() and not create:
            raise BadInput(
                f"{self.run_dir}: not a run folder (no {DB_NAME}); "
                "start one with 'viewfinder run STUDY --workdir DIR'"
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "images").mkdir(exist_ok=True)
        self._lock = threading.RLock()
        self._depth = 0
        self.conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    # -- plumbing -------------------------------------------------------------------------
    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise BadInput(
                f"{self.path}: schema version {version} is newer than this viewfinder "
                f"({SCHEMA_VERSION}); upgrade viewfinder"
            )
        for number in range(version, SCHEMA_VERSION):
            with self.transaction() as conn:
                for statement in _statements(MIGRATIONS[number]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, rolled back when the block raises.

        Re-entrant: a transaction opened inside another joins it, so callers can group
        several store writes (a batch's measurements and its costs) into one commit.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
            finally:
                self._depth = 0

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self.query("PRAGMA user_version")[0][0]

    # -- meta and texts -------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, json.dumps(value)),
            )

    def get_meta(self, key: str, default: Any = None) -> Any:
        rows = self.query("SELECT value FROM meta WHERE key=?", (key,))
        return json.loads(rows[0]["value"]) if rows else default

    def save_text(self, kind: str, version: str, body: str) -> None:
        """Keep a versioned text (a judge prompt, the study file) with the run."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO texts(kind, version, body) VALUES (?, ?, ?) "
                "ON CONFLICT(kind, version) DO UPDATE SET body=excluded.body",
                (kind, version, body),
            )

    def texts(self, kind: str) -> dict[str, str]:
        return {r["version"]: r["body"] for r in self.query("SELECT version, body FROM texts WHERE kind=?", (kind,))}

    # -- prompts and jobs -----------------------------------------------------------------
    def add_jobs(self, jobs: Iterable[Job]) -> int:
        """Insert prompts and jobs not yet stored; return how many jobs were new."""
        new = 0
        with self.transaction() as conn:
            for job in jobs:
                p = job.prompt
                conn.execute(
                    "INSERT OR IGNORE INTO prompts(id, position, text, topic, emotion, variant, subject, camera,"
                    " category, scene, style) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (p.id, p.position, p.text, p.topic, p.emotion, p.variant, p.subject, p.camera,
                     p.category, p.scene, p.style),
                )
                cur = conn.execute(
                    "INSERT OR IGNORE INTO jobs(id, prompt_id, model, seed, params) VALUES (?,?,?,?,?)",
                    (job.id, p.id, job.model, job.seed, json.dumps(job.params, sort_keys=True)),
                )
                new += cur.rowcount
        return new

    def jobs(self, states: Sequence[str] | None = None, ids: Sequence[str] | None = None) -> list[sqlite3.Row]:
        """Jobs joined with their prompt text, in grid order."""
        sql = (
            "SELECT j.*, p.text AS prompt_text, p.position FROM jobs j JOIN prompts p ON p.id = j.prompt_id"
        )
        clauses, params = [], []
        if states:
            clauses.append(f"j.state IN ({','.join('?' * len(states))})")
            params += list(states)
        if ids:
            clauses.append(f"j.id IN ({','.join('?' * len(ids))})")
            params += list(ids)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        return self.query(sql + " ORDER BY p.position, j.model, j.seed", params)

    def update_job(self, job_id: str, **fields: Any) -> None:
        """Set columns of one job (dicts are stored as JSON) and stamp ``updated_at``."""
        if "state" in fields and fields["state"] not in JOB_STATES:
            raise ValueError(f"unknown job state {fields['state']!r}")
        cols, values = [], []
        for key, value in fields.items():
            cols.append(f"{key}=?")
            values.append(json.dumps(value) if isinstance(value, (dict, list)) else value)
        cols.append("updated_at=strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")
        with self.transaction() as conn:
            conn.execute(f"UPDATE jobs SET {', '.join(cols)} WHERE id=?", (*values, job_id))

    def job_counts(self) -> dict[str, int]:
        counts = {state: 0 for state in JOB_STATES}
        for row in self.query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state"):
            counts[row["state"]] = row["n"]
        return counts

    # -- images ---------------------------------------------------------------------------
    def add_image(
        self,
        *,
        job_id: str,
        sha256: str,
        path: str,
        size: int,
        fmt: str,
        width: int,
        height: int,
        model: str,
        seed: int | None,
        cost_usd: float,
        source_url: str | None = None,
        idx: int = 0,
        conn: sqlite3.Connection | None = None,
    ) -> int:
        """Record a stored image file; returns its id (the existing one if already stored)."""
        sql = (
            "INSERT INTO images(job_id, idx, sha256, path, bytes, format, width, height, model, seed, cost_usd,"
            " source_url) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(job_id, idx) DO NOTHING"
        )
        args = (job_id, idx, sha256, path, size, fmt, width, height, model, seed, cost_usd, source_url)

        def run(c: sqlite3.Connection) -> int:
            c.execute(sql, args)
            return c.execute("SELECT id FROM images WHERE job_id=? AND idx=?", (job_id, idx)).fetchone()[0]

        if conn is not None:
            return run(conn)
        with self.transaction() as c:
            return run(c)

    def images(self, ids: Sequence[int] | None = None) -> list[sqlite3.Row]:
        """Images with their job and prompt fields (text, emotion, camera, ...), in grid order."""
        sql = (
            "SELECT i.*, j.prompt_id, p.text AS prompt_text, p.topic, p.emotion, p.variant, p.subject,"
            " p.camera, p.category, p.scene, p.style, p.position"
            " FROM images i JOIN jobs j ON j.id = i.job_id JOIN prompts p ON p.id = j.prompt_id"
        )
        params: list[Any] = []
        if ids is not None:
            sql += f" WHERE i.id IN ({','.join('?' * len(ids))})"
            params = list(ids)
        return self.query(sql + " ORDER BY p.position, i.model, i.seed, i.idx", params)

    def image_path(self, row: sqlite3.Row) -> Path:
        return self.run_dir / row["path"]

    # -- measurements ---------------------------------------------------------------------
    def register_specs(self, analyzer: str, version: str, specs: Iterable[MeasurementSpec]) -> None:
        with self.transaction() as conn:
            for spec in specs:
                conn.execute(
                    "INSERT INTO measurement_specs(analyzer, version, name, unit, better, description, roles)"
                    " VALUES (?,?,?,?,?,?,?) ON CONFLICT(analyzer, name) DO UPDATE SET version=excluded.version,"
                    " unit=excluded.unit, better=excluded.better, description=excluded.description,"
                    " roles=excluded.roles",
                    (analyzer, version, spec.name, spec.unit, spec.better.value, spec.description,
                     roles_to_json(spec.roles)),
                )

    def specs(self) -> dict[tuple[str, str], sqlite3.Row]:
        return {(r["analyzer"], r["name"]): r for r in self.query("SELECT * FROM measurement_specs")}

    def spec_records(self) -> list[StoredSpec]:
        """Every registered spec with its roles, in analyzer, then name order."""
        return [
            StoredSpec(r["analyzer"], r["version"],
                       MeasurementSpec(r["name"], r["unit"], r["better"], r["description"], roles_from_json(r["roles"])))
            for r in self.query("SELECT * FROM measurement_specs ORDER BY analyzer, name")
        ]

    def analyzed_image_ids(self, analyzer: str, version: str, include_failed: bool = False) -> set[int]:
        """Images this analyzer version already handled (done, and failed when asked)."""
        statuses = ("done", "failed") if include_failed else ("done",)
        rows = self.query(
            f"SELECT image_id FROM analysis_runs WHERE analyzer=? AND version=? AND status IN ({','.join('?' * len(statuses))})",
            (analyzer, version, *statuses),
        )
        return {r["image_id"] for r in rows}

    def write_analysis(
        self,
        analyzer: str,
        version: str,
        measurements: Sequence[Measurement],
        done_ids: Iterable[int],
        failures: dict[int, str] | None = None,
    ) -> None:
        """Store one batch of an analyzer's results in one transaction."""
        done = list(done_ids)
        with self.transaction() as conn:
            for image_id in done:
                conn.execute("DELETE FROM measurements WHERE image_id=? AND analyzer=?", (image_id, analyzer))
            conn.executemany(
                "INSERT OR REPLACE INTO measurements(image_id, analyzer, version, name, value, text) VALUES (?,?,?,?,?,?)",
                [(m.image_id, analyzer, version, m.name, m.value, m.text) for m in measurements],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO analysis_runs(image_id, analyzer, version, status, error) VALUES (?,?,?,?,NULL)",
                [(image_id, analyzer, version, "done") for image_id in done],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO analysis_runs(image_id, analyzer, version, status, error) VALUES (?,?,?,?,?)",
                [(image_id, analyzer, version, "failed", error) for image_id, error in (failures or {}).items()],
            )

    def measurements(self, analyzer: str | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM measurements"
        params: tuple[Any, ...] = ()
        if analyzer:
            sql += " WHERE analyzer=?"
            params = (analyzer,)
        return self.query(sql + " ORDER BY image_id, analyzer, name", params)

    def measurement_table(self) -> dict[int, dict[str, Any]]:
        """``{image_id: {"analyzer.name": value or text}}`` for every stored measurement."""
        out: dict[int, dict[str, Any]] = {}
        for row in self.measurements():
            value = row["value"] if row["value"] is not None else row["text"]
            out.setdefault(row["image_id"], {})[f"{row['analyzer']}.{row['name']}"] = value
        return out

    # -- cost ledger ----------------------------------------------------------------------
    def add_cost(
        self,
        kind: str,
        model: str,
        usd: float,
        *,
        job_id: str | None = None,
        image_id: int | None = None,
        detail: dict[str, Any] | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> None:
        args = (kind, model, job_id, image_id, usd, json.dumps(detail) if detail else None)
        sql = "INSERT INTO ledger(kind, model, job_id, image_id, usd, detail) VALUES (?,?,?,?,?,?)"
        if conn is not None:
            conn.execute(sql, args)
            return
        with self.transaction() as c:
            c.execute(sql, args)

    def total_cost(self, kind: str | None = None) -> float:
        if kind:
            rows = self.query("SELECT COALESCE(SUM(usd), 0) FROM ledger WHERE kind=?", (kind,))
        else:
            rows = self.query("SELECT COALESCE(SUM(usd), 0) FROM ledger")
        return float(rows[0][0])

    # -- aggregates -----------------------------------------------------------------------
    def save_aggregate(self, name: str, body: Any) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO aggregates(name, body) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET"
                " body=excluded.body, created_at=strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                (name, json.dumps(body)),
            )

    def aggregate(self, name: str) -> Any:
        rows = self.query("SELECT body FROM aggregates WHERE name=?", (name,))
        return json.loads(rows[0]["body"]) if rows else None

    # -- status ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Jobs per state, images stored, cost so far (USD, by kind)."""
        images = self.query("SELECT COUNT(*) FROM images")[0][0]
        return {
            "run_dir": str(self.run_dir),
            "study": self.get_meta("study_name"),
            "jobs": self.job_counts(),
            "images": images,
            "cost_usd": {
                "generation": round(self.total_cost("generation"), 6),
                "judge": round(self.total_cost("judge"), 6),
                "total": round(self.total_cost(), 6),
            },
            "schema_version": self.schema_version,
        }


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (no ';' inside our DDL literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]
