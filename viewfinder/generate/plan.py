"""Which jobs a run works on, computed in memory from the study and the command line.

The jobs of a run are the study's grid for the models asked for this time (``--model``, or the
study's list); the run folder remembers no model list. ``--limit N`` is the first N of those
jobs in the grid's fixed order, so the same command run again after an interruption converges on
the same N images. Jobs stored by earlier runs for other models or settings are left alone and
named; ``viewfinder prune`` drops the ones the study no longer asks for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from viewfinder.generate.registry import check_model
from viewfinder.store import DroppedJobs, JobRecord, RunStore
from viewfinder.study import Job, Study, expand_jobs


def plan_jobs(study: Study, models: Sequence[str] | None = None) -> list[Job]:
    """The run's jobs in grid order; a model of an unknown backend is bad input."""
    chosen = list(models or study.models)
    for model in chosen:
        check_model(model)
    return list(expand_jobs(study, chosen))


def select_jobs(planned: Sequence[Job], stored: Sequence[JobRecord], limit: int | None) -> list[JobRecord]:
    """What to work on: of the first ``limit`` planned jobs (all without a limit) those not
    completed, after any planned request an interrupted run already paid for (``submitted``:
    waiting for it costs nothing, losing it would pay twice). Jobs not stored yet come back as
    pending records (a dry run stores nothing)."""
    records = {record.id: record for record in stored}
    window = planned[:limit] if limit else planned
    in_window = {job.id for job in window}
    todo = [record for job in window if (record := records.get(job.id) or _pending(job)).state != "completed"]
    todo += [
        records[job.id]
        for job in planned
        if job.id not in in_window and job.id in records and records[job.id].state == "submitted"
    ]
    todo.sort(key=lambda record: record.state != "submitted")  # stable: grid order otherwise
    return todo


@dataclass(frozen=True)
class OtherJobs:
    """Stored jobs outside this run, per model as (jobs, completed): ``prunable`` (the study no
    longer asks for them) and ``kept`` (the study's, left out by ``--model``)."""

    prunable: dict[str, tuple[int, int]]
    kept: dict[str, tuple[int, int]]

    def lines(self, run_dir: Path) -> list[str]:
        fix = f"`viewfinder prune {run_dir}` drops them"
        return [_line(model, counts, fix) for model, counts in self.prunable.items()] + [
            _line(model, counts, "the study's; left alone") for model, counts in self.kept.items()
        ]


def _line(model: str, counts: tuple[int, int], what: str) -> str:
    jobs, completed = counts
    made = f" ({completed} completed)" if completed else ""
    return f"{jobs} job{'s' if jobs != 1 else ''} of {model}{made} not in this run: {what}"


def other_jobs(study: Study, planned: Sequence[Job], stored: Sequence[JobRecord]) -> OtherJobs:
    """Stored jobs this run leaves alone, split by whether ``viewfinder prune`` would drop them."""
    planned_ids = {job.id for job in planned}
    outside = [record for record in stored if record.id not in planned_ids]
    study_ids = {job.id for job in expand_jobs(study)} if outside else set()
    groups: dict[bool, dict[str, tuple[int, int]]] = {True: {}, False: {}}
    for record in outside:
        group = groups[record.id in study_ids]
        jobs, completed = group.get(record.model, (0, 0))
        group[record.model] = (jobs + 1, completed + (record.state == "completed"))
    return OtherJobs(dict(sorted(groups[False].items())), dict(sorted(groups[True].items())))


def jobs_for_run(
    store: RunStore | None,
    study: Study,
    models: Sequence[str] | None,
    limit: int | None,
    *,
    dry_run: bool,
    console: Console,
) -> list[JobRecord]:
    """This run's jobs to work on (:func:`select_jobs`), registered in the store first unless a dry
    run; stored jobs outside the run are left alone and named on ``console``."""
    planned = plan_jobs(study, models)
    if store is not None and not dry_run:
        store.add_jobs(planned)
    stored = store.jobs() if store is not None else []
    if store is not None:
        for line in other_jobs(study, planned, stored).lines(store.run_dir):
            console.print(line, markup=False, highlight=False)
    return select_jobs(planned, stored, limit)


def prune(store: RunStore, study: Study) -> DroppedJobs:
    """Drop the stored jobs the study no longer asks for (see :meth:`RunStore.drop_jobs`)."""
    wanted = {job.id for job in expand_jobs(study)}
    return store.drop_jobs([record.id for record in store.jobs() if record.id not in wanted])


def _pending(job: Job) -> JobRecord:
    """A job not stored yet, as the record it will be once stored."""
    return JobRecord(
        id=job.id,
        prompt_id=job.prompt.id,
        model=job.model,
        seed=job.seed,
        params=job.params,
        state="pending",
        attempts=0,
        request_id=None,
        request=None,
        response=None,
        last_error=None,
        cost_usd=None,
        created_at="",
        updated_at="",
        prompt_text=job.prompt.text,
        position=job.prompt.position,
    )
