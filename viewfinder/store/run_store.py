"""The run store: one SQLite database per run folder, shared by every pipeline stage.

:class:`RunStore` is the facade the stages use; it hands out typed records
(:mod:`viewfinder.store.records`) and keeps the SQL in the query modules beside it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from viewfinder.errors import BadInput
from viewfinder.store import costs, failures, images, jobs, labels, lock, measurements, meta
from viewfinder.store import jobs as job_table  # `jobs` is also a method name in the class body
from viewfinder.store.db import Database, on_db
from viewfinder.store.records import (
    AnalysisRun,
    AnalyzerRuns,
    CachedAnswer,
    CostTotal,
    DroppedJobs,
    FailureGroup,
    ImageDates,
    ImageRecord,
    ImportedImage,
    JobRecord,
    Label,
    LedgerEntry,
    MissingMeasurement,
    NewImage,
    StoredMeasurement,
)
from viewfinder.store.specs import MeasurementSpec, StoredSpec
from viewfinder.study.grid import Job

DB_NAME = "viewfinder.sqlite"


class RunStore:
    """Typed access to ``<run_dir>/viewfinder.sqlite`` (WAL, foreign keys, migrations)."""

    def __init__(self, run_dir: str | Path, *, create: bool = True, readonly: bool = False) -> None:
        """Open (or with ``create`` make) the run folder's store. A writer holds the folder's lock
        (:mod:`viewfinder.store.lock`) until :meth:`close`; ``readonly`` takes no lock, writes
        nothing and needs an existing store."""
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / DB_NAME
        self._lock: Path | None = None
        if not self.path.exists() and (readonly or not create):
            raise BadInput(
                f"{self.run_dir}: not a run folder (no {DB_NAME}); start one with 'viewfinder run STUDY --workdir DIR'"
            )
        if readonly:
            self._db = Database(self.path, readonly=True)
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock = lock.acquire(self.run_dir)
        try:
            (self.run_dir / "images").mkdir(exist_ok=True)
            self._db = Database(self.path)
        except BaseException:
            self._release()
            raise

    # -- plumbing -------------------------------------------------------------------------
    def transaction(self) -> AbstractContextManager[None]:
        """One write transaction, rolled back when the block raises. Re-entrant: store writes
        inside it (a batch's measurements and its costs) share its one commit."""
        return self._db.transaction()

    def close(self) -> None:
        try:
            self._db.close()
        finally:
            self._release()

    def _release(self) -> None:
        if self._lock is not None:
            lock.release(self._lock)
            self._lock = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._db.schema_version()

    # -- meta, texts and aggregates ---------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        meta.set_meta(self._db, key, value)

    def get_meta(self, key: str, default: Any = None) -> Any:
        return meta.get_meta(self._db, key, default)

    def save_text(self, kind: str, version: str, body: str) -> None:
        """Keep a versioned text (a judge prompt, the study file) with the run."""
        meta.save_text(self._db, kind, version, body)

    def texts(self, kind: str) -> dict[str, str]:
        return meta.texts(self._db, kind)

    def text_versions(self) -> list[tuple[str, str]]:
        return meta.text_versions(self._db)

    def save_aggregate(self, name: str, body: Any) -> None:
        meta.save_aggregate(self._db, name, body)

    def aggregate(self, name: str) -> Any:
        return meta.aggregate(self._db, name)

    # -- prompts and jobs -----------------------------------------------------------------
    def add_jobs(self, grid: Iterable[Job]) -> int:
        """Insert prompts and jobs not yet stored; return how many jobs were new."""
        return jobs.add_jobs(self._db, grid)

    def jobs(self, states: Sequence[str] | None = None, ids: Sequence[str] | None = None) -> list[JobRecord]:
        """Jobs joined with their prompt text, in grid order."""
        return jobs.jobs(self._db, states, ids)

    def drop_jobs(self, job_ids: Sequence[str]) -> DroppedJobs:
        """Delete these jobs with their image rows and measurements (files and ledger stay)."""
        return jobs.drop_jobs(self._db, job_ids)

    mark_submitted = on_db(job_table.mark_submitted)

    complete_job = on_db(job_table.complete_job)

    def fail_job(self, job_id: str, error: str, *, attempts: int | None = None) -> None:
        jobs.fail_job(self._db, job_id, error, attempts=attempts)

    def record_generation(
        self, job: JobRecord, files: Sequence[NewImage], *, seed: int | None, response: dict[str, Any]
    ) -> None:
        """Complete ``job`` with its image files: image rows, one generation ledger entry per
        image and the job's state, response and cost, in one transaction."""
        with self._db.transaction():
            for idx, image in enumerate(files):
                image_id = images.add_image(self._db, job.id, image, model=job.model, seed=seed, idx=idx)
                costs.add_cost(
                    self._db,
                    "generation",
                    job.model,
                    image.cost_usd,
                    job_id=job.id,
                    image_id=image_id,
                    detail=image.detail,
                )
            cost = round(sum(image.cost_usd for image in files), 6)
            jobs.complete_job(self._db, job.id, response=response, cost_usd=cost)

    def job_counts(self) -> dict[str, int]:
        return jobs.job_counts(self._db)

    # -- images ---------------------------------------------------------------------------
    def add_image(self, job_id: str, image: NewImage, *, model: str, seed: int | None, idx: int = 0) -> int:
        """Record a stored image file; returns its id (the existing one if already stored)."""
        return images.add_image(self._db, job_id, image, model=model, seed=seed, idx=idx)

    def images(self, ids: Sequence[int] | None = None) -> list[ImageRecord]:
        """Images with their job and prompt fields (text, emotion, camera, ...), in grid order."""
        return images.images(self._db, ids)

    def image_path(self, image: ImageRecord) -> Path:
        return self.run_dir / image.path

    def image_dates(self) -> ImageDates:
        return images.image_dates(self._db)

    # -- measurements ---------------------------------------------------------------------
    def register_specs(self, analyzer: str, version: str, specs: Iterable[MeasurementSpec]) -> None:
        measurements.register_specs(self._db, analyzer, version, specs)

    def specs(self) -> dict[tuple[str, str], StoredSpec]:
        return measurements.specs(self._db)

    def spec_records(self) -> list[StoredSpec]:
        """Every registered spec with its roles, in analyzer, then name order."""
        return measurements.spec_records(self._db)

    def analyzed_image_ids(self, analyzer: str, version: str | None = None, include_failed: bool = False) -> set[int]:
        """Images this analyzer (this version, or any) already handled (done, failed when asked)."""
        return measurements.analyzed_image_ids(self._db, analyzer, version, include_failed)

    write_analysis = on_db(measurements.write_analysis)

    def measurements(self, analyzer: str | None = None) -> list[StoredMeasurement]:
        return measurements.measurements(self._db, analyzer)

    def measurement_table(self) -> dict[int, dict[str, Any]]:
        """``{image_id: {"analyzer.name": value or text}}`` for every stored measurement."""
        return measurements.measurement_table(self._db)

    def measurement_pairs(self) -> dict[int, dict[str, tuple[float | None, str | None]]]:
        """``{image_id: {"analyzer.name": (value, text)}}``."""
        return measurements.measurement_pairs(self._db)

    def cached_answers(self, analyzer: str, version: str, hashes: Iterable[str]) -> list[CachedAnswer]:
        """What this analyzer version already answered for image files with these hashes."""
        return measurements.cached_answers(self._db, analyzer, version, hashes)

    def analyzer_runs(self) -> list[AnalyzerRuns]:
        return measurements.analyzer_runs(self._db)

    def analysis_runs(self, analyzer: str | None = None) -> list[AnalysisRun]:
        return measurements.analysis_runs(self._db, analyzer)

    # -- people: imported images, reference labels, review samples ---------------------------
    def record_import(self, imported: Sequence[ImportedImage]) -> None:
        """Record images made elsewhere (files already written): each one's prompt, a completed job,
        the image row and where it came from, in one transaction."""
        with self._db.transaction():
            jobs.add_jobs(self._db, (item.job for item in imported))
            found: dict[int, str] = {}
            for item in imported:
                image_id = images.add_image(self._db, item.job.id, item.image, model=item.job.model, seed=item.seed)
                jobs.complete_job(self._db, item.job.id, cost_usd=item.image.cost_usd)
                found[image_id] = item.source
            labels.set_sources(self._db, found)

    def image_sources(self) -> dict[int, str]:
        """``{image_id: path in the imported folder}`` of imported images."""
        return labels.sources(self._db)

    def image_keys(self) -> dict[str, int]:
        """Every name a labels file may give an image (imported path, run path, sha256, id) -> its id."""
        return labels.image_keys(self._db)

    def add_labels(self, found: Iterable[Label]) -> int:
        """Store labels; a labeller's new answer for an image and dimension replaces their old one."""
        return labels.add_labels(self._db, found)

    def labels(self, labeller: str | None = None) -> list[Label]:
        return labels.labels(self._db, labeller)

    def labels_stamp(self) -> str:
        """Changes whenever a label is added or replaced."""
        return labels.labels_stamp(self._db)

    def save_review_sample(self, name: str, image_ids: Sequence[int]) -> None:
        labels.save_sample(self._db, name, image_ids)

    def review_sample(self, name: str) -> list[int]:
        return labels.sample(self._db, name)

    # -- cost ledger ----------------------------------------------------------------------
    add_cost = on_db(costs.add_cost)

    def total_cost(self, kind: str | None = None) -> float:
        return costs.total_cost(self._db, kind)

    def cost_totals(self) -> list[CostTotal]:
        return costs.cost_totals(self._db)

    def unpriced_models(self) -> list[str]:
        """Models whose calls were booked at $0 because no price is known."""
        return costs.unpriced_models(self._db)

    def ledger(self, kind: str | None = None) -> list[LedgerEntry]:
        return costs.ledger(self._db, kind)

    # -- failures -------------------------------------------------------------------------
    def failure_groups(self) -> list[FailureGroup]:
        """Failed jobs and images grouped by stage, source and reason, with one example each."""
        return failures.failure_groups(self._db)

    def missing_groups(self) -> list[FailureGroup]:
        """Measurements left out of measured images, grouped by measurement and reason."""
        return failures.missing_groups(self._db)

    def missing_measurements(self, analyzer: str | None = None) -> list[MissingMeasurement]:
        return failures.missing_measurements(self._db, analyzer)

    def image_errors(self) -> dict[int, list[str]]:
        """Per image: analyzer failures and measurements left out, one ``analyzer: reason`` line each."""
        return failures.image_errors(self._db)

    # -- status ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Jobs per state, images stored, cost so far (USD, by kind)."""
        return {
            "run_dir": str(self.run_dir),
            "study": self.get_meta("study_name"),
            "jobs": self.job_counts(),
            "images": images.image_count(self._db),
            "cost_usd": {
                "generation": round(self.total_cost("generation"), 6),
                "judge": round(self.total_cost("judge"), 6),
                "total": round(self.total_cost(), 6),
            },
            "failures": [asdict(group) for group in self.failure_groups()],
            "missing": [asdict(group) for group in self.missing_groups()],
            "schema_version": self.schema_version,
        }
