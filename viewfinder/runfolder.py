"""Open a run folder and bind it to its study."""

from __future__ import annotations

from pathlib import Path

from viewfinder.errors import BadInput
from viewfinder.store import RunStore
from viewfinder.study import Study, expand_jobs, load_study, parse_study


def default_workdir(study: Study) -> Path:
    return Path("runs") / study.name


def init_run(study_path: Path, workdir: Path | None, models: list[str] | None = None) -> tuple[RunStore, Study]:
    """Create or reopen the run folder for ``study_path`` and add the jobs not stored yet."""
    study = load_study(study_path)
    store = RunStore(workdir or default_workdir(study))
    stored_name = store.get_meta("study_name")
    if stored_name is not None and stored_name != study.name:
        store.close()
        raise BadInput(
            f"{store.run_dir}: this run folder belongs to study {stored_name!r}, not {study.name!r}; "
            "give another --workdir"
        )
    text = study_path.read_text(encoding="utf-8")
    store.set_meta("study_name", study.name)
    store.set_meta("study_path", str(study_path))
    store.set_meta("study_toml", text)
    if models:
        store.set_meta("models", models)
    store.add_jobs(expand_jobs(study, models or store.get_meta("models")))
    return store, study


def open_run(run_dir: Path) -> tuple[RunStore, Study]:
    """Reopen an existing run folder and the study stored in it."""
    store = RunStore(run_dir, create=False)
    text = store.get_meta("study_toml")
    if text is None:
        store.close()
        raise BadInput(
            f"{run_dir}: the run folder holds no study; start it with 'viewfinder run STUDY --workdir {run_dir}'"
        )
    return store, parse_study(text, store.get_meta("study_path", "<stored study>"))
