"""``viewfinder prune DIR``: drop the jobs the stored study no longer asks for, and say what went."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from viewfinder.generate.plan import prune as drop_unasked
from viewfinder.runfolder import open_run


def prune_run(run_dir: Path, out: Console) -> None:
    """Drop the unasked jobs with their image rows and measurements; image files and the ledger stay."""
    store, loaded = open_run(run_dir)
    with store:
        dropped = drop_unasked(store, loaded)
    if not dropped.jobs:
        out.print("nothing to prune: every job is one the study asks for", markup=False)
        return
    for model, count in dropped.by_model.items():
        out.print(f"dropped {count} job{'s' if count != 1 else ''} of {model}", markup=False, highlight=False)
    out.print(
        f"with {dropped.images} image rows, {dropped.measurements} measurements and {dropped.analysis_runs} analysis "
        f"outcomes; the image files stay in {run_dir / 'images'}, the ledger keeps what they cost, and the stored "
        "scores are made again by the next score or report",
        markup=False,
        highlight=False,
    )
