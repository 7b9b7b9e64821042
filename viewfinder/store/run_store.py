"""The run store: one SQLite database per run folder, shared by every pipeline stage.

:class:`RunStore` is the facade the stages use; it hands out typed records
(:mod:`viewfinder.store.records`) and keeps the SQL in the query modules beside it."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from viewfinder.errors import BadInput
from viewfinder.store import costs, failures, lock, meta

# the class body has methods named jobs, images, labels and measurements: their modules go by these names
from viewfinder.store import images as image_queries
from viewfinder.store import jobs as job_queries
from viewfinder.store import labels as label_queries
from viewfinder.store import measurements as measurement_queries
from viewfinder.store.db import Database, on_db
from viewfinder.store.records import ImageRecord, ImportedImage, JobRecord, NewImage

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
    set_meta = on_db(meta.set_meta)
    get_meta = on_db(meta.get_meta)
    save_text = on_db(meta.save_text)
    texts = on_db(meta.texts)
    text_versions = on_db(meta.text_versions)
    save_aggregate = on_db(meta.save_aggregate)
    aggregate = on_db(meta.aggregate)

    # -- prompts and jobs -----------------------------------------------------------------
    add_jobs = on_db(job_queries.add_jobs)
    jobs = on_db(job_queries.jobs)
    drop_jobs = on_db(job_queries.drop_jobs)
    mark_submitted = on_db(job_queries.mark_submitted)
    complete_job = on_db(job_queries.complete_job)
    fail_job = on_db(job_queries.fail_job)

    def record_generation(
        self, job: JobRecord, files: Sequence[NewImage], *, seed: int | None, response: dict[str, Any]
    ) -> None:
        """Complete ``job`` with its image files: image rows, one generation ledger entry per
        image and the job's state, response and cost, in one transaction."""
        with self._db.transaction():
            for idx, image in enumerate(files):
                image_id = image_queries.add_image(self._db, job.id, image, model=job.model, seed=seed, idx=idx)
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
            job_queries.complete_job(self._db, job.id, response=response, cost_usd=cost)

    job_counts = on_db(job_queries.job_counts)

    # -- images ---------------------------------------------------------------------------
    add_image = on_db(image_queries.add_image)
    images = on_db(image_queries.images)
    image_count = on_db(image_queries.image_count)

    def image_path(self, image: ImageRecord) -> Path:
        return self.run_dir / image.path

    image_dates = on_db(image_queries.image_dates)

    # -- measurements ---------------------------------------------------------------------
    register_specs = on_db(measurement_queries.register_specs)
    specs = on_db(measurement_queries.specs)
    spec_records = on_db(measurement_queries.spec_records)
    analyzed_image_ids = on_db(measurement_queries.analyzed_image_ids)
    write_analysis = on_db(measurement_queries.write_analysis)
    measurements = on_db(measurement_queries.measurements)
    measurement_table = on_db(measurement_queries.measurement_table)
    measurement_pairs = on_db(measurement_queries.measurement_pairs)
    cached_answers = on_db(measurement_queries.cached_answers)
    analyzer_runs = on_db(measurement_queries.analyzer_runs)
    analysis_runs = on_db(measurement_queries.analysis_runs)

    # -- people: imported images, reference labels, review samples ---------------------------
    def record_import(self, imported: Sequence[ImportedImage]) -> None:
        """Record images made elsewhere (files already written): each one's prompt, a completed job,
        the image row and where it came from, in one transaction."""
        with self._db.transaction():
            job_queries.add_jobs(self._db, (item.job for item in imported))
            found: dict[int, str] = {}
            for item in imported:
                image_id = image_queries.add_image(
                    self._db, item.job.id, item.image, model=item.job.model, seed=item.seed
                )
                job_queries.complete_job(self._db, item.job.id, cost_usd=item.image.cost_usd)
                found[image_id] = item.source
            label_queries.set_sources(self._db, found)

    image_sources = on_db(label_queries.sources)
    image_keys = on_db(label_queries.image_keys)

    add_labels = on_db(label_queries.add_labels)
    labels = on_db(label_queries.labels)
    labels_stamp = on_db(label_queries.labels_stamp)
    save_review_sample = on_db(label_queries.save_sample)
    review_sample = on_db(label_queries.sample)

    # -- cost ledger ----------------------------------------------------------------------
    add_cost = on_db(costs.add_cost)
    total_cost = on_db(costs.total_cost)
    cost_totals = on_db(costs.cost_totals)
    unpriced_models = on_db(costs.unpriced_models)
    ledger = on_db(costs.ledger)

    # -- failures -------------------------------------------------------------------------
    failure_groups = on_db(failures.failure_groups)
    missing_groups = on_db(failures.missing_groups)
    missing_measurements = on_db(failures.missing_measurements)
    image_errors = on_db(failures.image_errors)

    # -- status ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Jobs per state, images stored, cost so far (USD, by kind)."""
        return {
            "run_dir": str(self.run_dir),
            "study": self.get_meta("study_name"),
            "jobs": self.job_counts(),
            "images": self.image_count(),
            "cost_usd": {
                "generation": round(self.total_cost("generation"), 6),
                "judge": round(self.total_cost("judge"), 6),
                "total": round(self.total_cost(), 6),
            },
            "failures": [asdict(group) for group in self.failure_groups()],
            "missing": [asdict(group) for group in self.missing_groups()],
            "schema_version": self.schema_version,
        }
