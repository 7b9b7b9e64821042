"""Open a run folder and bind it to its study."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from viewfinder.errors import BadInput
from viewfinder.generate.plan import plan_jobs
from viewfinder.store import DB_NAME, RunStore
from viewfinder.study import Study, load_study, parse_study


def default_workdir(study: Study) -> Path:
    return Path("runs") / study.name


def init_run(study_path: Path, workdir: Path | None, models: list[str] | None = None) -> tuple[RunStore, Study]:
    """Create or reopen the run folder for ``study_path`` (holding its lock), store the study and
    add this run's jobs (``models``, default the study's) not stored yet. The models are checked
    before the folder is touched; they are not remembered (each run names its own)."""
    study = load_study(study_path)
    jobs = plan_jobs(study, models)
    store = RunStore(workdir or default_workdir(study))
    try:
        _check_study_name(store, study)
        store.set_meta("study_name", study.name)
        store.set_meta("study_path", str(study_path))
        store.set_meta("study_toml", study_path.read_text(encoding="utf-8"))
        store.add_jobs(jobs)
    except BaseException:
        store.close()
        raise
    return store, study


def peek_run(study_path: Path, workdir: Path | None) -> tuple[RunStore | None, Study]:
    """The study and, when its run folder exists, a read-only store on it (for a dry run, which
    writes nothing: not even the folder)."""
    study = load_study(study_path)
    run_dir = workdir or default_workdir(study)
    if not (run_dir / DB_NAME).exists():
        return None, study
    store = RunStore(run_dir, readonly=True)
    try:
        _check_study_name(store, study)
    except BaseException:
        store.close()
        raise
    return store, study


def open_run(run_dir: Path, *, readonly: bool = False) -> tuple[RunStore, Study]:
    """Reopen an existing run folder and the study stored in it (``readonly``: no lock, no writes)."""
    store = RunStore(run_dir, create=False, readonly=readonly)
    text = store.get_meta("study_toml")
    if text is None:
        store.close()
        raise BadInput(
            f"{run_dir}: the run folder holds no study; start it with 'viewfinder run STUDY --workdir {run_dir}'"
        )
    return store, parse_study(text, store.get_meta("study_path", "<stored study>"))


def _check_study_name(store: RunStore, study: Study) -> None:
    stored_name = store.get_meta("study_name")
    if stored_name is not None and stored_name != study.name:
        raise BadInput(
            f"{store.run_dir}: this run folder belongs to study {stored_name!r}, not {study.name!r}; "
            "give another --workdir"
        )


def open_scored(run_dir: Path, console: Console) -> tuple[RunStore, Study]:
    """The run for reading its stored scores: read-only (no lock) when they are stored and current,
    otherwise opened for writing (the lock) and scored first."""
    from viewfinder.score.stage import ensure_scored, needs_scoring

    store, loaded = open_run(run_dir, readonly=True)
    if not needs_scoring(store):
        return store, loaded
    store.close()
    store, loaded = open_run(run_dir)
    try:
        ensure_scored(store, loaded, console)
    except BaseException:
        store.close()
        raise
    return store, loaded
