"""Scoring runs once and is stored; the report and the export read the stored results."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from test_score_support import build_run, study
from typer.testing import CliRunner

from viewfinder.cli import app
from viewfinder.errors import BadInput
from viewfinder.export import export_run
from viewfinder.score import load_image_adherence, run_scoring
from viewfinder.score.per_image import ADHERENCE_NAME, ImageAdherenceRecord
from viewfinder.store import RunStore


def test_stored_adherence_round_trips_and_matches_the_score_report(tmp_path: Path) -> None:
    with build_run(tmp_path / "run") as store:
        report = run_scoring(store, study(), Console(quiet=True))
        record = load_image_adherence(store)
    assert record is not None and len(record.images) == report.n_images == 72
    assert ImageAdherenceRecord.from_dict(record.to_dict()) == record
    for result in report.dimensions:
        verdicts = [
            v
            for vs in record.images.values()
            for v in vs
            if (v.dimension, v.method) == (result.dimension, result.method)
        ]
        assert sum(v.follows is True for v in verdicts) == result.overall.k
        assert sum(v.follows is not None for v in verdicts) == result.overall.n


def test_export_of_an_unscored_run_scores_it_first_through_the_cli(tmp_path: Path) -> None:
    build_run(tmp_path / "run").close()
    with RunStore(tmp_path / "run") as store:
        with pytest.raises(BadInput, match="viewfinder score"):
            export_run(store, study(), "csv")  # the export itself never scores
    result = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "--format", "csv"])
    assert result.exit_code == 0, result.output
    with RunStore(tmp_path / "run") as store:
        assert store.aggregate(ADHERENCE_NAME) is not None


def test_a_stored_record_of_another_version_is_bad_input_with_the_fix(tmp_path: Path) -> None:
    with build_run(tmp_path / "run") as store:
        run_scoring(store, study(), Console(quiet=True))
        store.save_aggregate(ADHERENCE_NAME, {"version": 0, "rows": []})
        with pytest.raises(BadInput, match="run 'viewfinder score"):
            export_run(store, study(), "csv")
    result = CliRunner().invoke(app, ["report", str(tmp_path / "run")])
    assert result.exit_code == 2 and "run 'viewfinder score" in " ".join(result.output.split())
