"""`viewfinder export`: one row per image, loadable in one line by pandas and DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from rich.console import Console
from test_score_support import build_run, study
from typer.testing import CliRunner

from viewfinder.cli import app
from viewfinder.errors import BadInput
from viewfinder.export import export_run
from viewfinder.score import build_score_report, run_scoring
from viewfinder.store import RunStore

LOADERS = {
    "parquet": lambda path: pd.read_parquet(path),
    "csv": lambda path: pd.read_csv(path),
    "jsonl": lambda path: pd.read_json(path, lines=True),
}


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    with build_run(tmp_path / "run", judge_secret="sk-test-SECRET-123456 ") as store:
        run_scoring(store, study(), Console(quiet=True))
    return tmp_path / "run"


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_export_loads_in_pandas_and_duckdb(run_dir: Path, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SECRET-123456")
    result = CliRunner().invoke(app, ["export", str(run_dir), "--format", fmt])
    assert result.exit_code == 0, result.output
    path = run_dir / f"export.{fmt}"
    assert result.stdout.strip().endswith(str(path))

    frame = LOADERS[fmt](path)
    assert len(frame) == 72 and frame["image_id"].is_unique
    for column in (
        "prompt_text",
        "model",
        "seed",
        "sha256",
        "clip.clip_score",
        "judge.expression",
        "faces.expression",
        "pixels.entropy",
        "adherence.emotion.judge",
        "adherence.scene.judge",
    ):
        assert column in frame.columns, column
    assert frame["clip.clip_score"].dtype.kind == "f"

    con = duckdb.connect()
    rows = con.sql(
        f"SELECT model, count(*), avg(\"clip.clip_score\") FROM '{path}' GROUP BY model ORDER BY model"
    ).fetchall()
    assert [(m, n) for m, n, _ in rows] == [("fal:model-a", 36), ("fal:model-b", 36)]
    assert rows[0][2] > rows[1][2]

    with RunStore(run_dir, create=False) as store:
        table = store.measurement_table()
        by_id = frame.set_index("image_id")
        for image_id, values in list(table.items())[:10]:
            assert by_id.loc[image_id, "judge.expression"] == values["judge.expression"]
            assert by_id.loc[image_id, "clip.clip_score"] == pytest.approx(values["clip.clip_score"])

    text = path.read_bytes()
    assert b"sk-test-SECRET-123456" not in text  # a key echoed into a judge answer is masked
    assert b"[redacted]" in text


def test_adherence_flags_match_the_score_report(run_dir: Path) -> None:
    with RunStore(run_dir, create=False) as store:
        path, count = export_run(store, study(), "parquet", run_dir / "out.parquet")
        report = build_score_report(store.images(), store.measurement_table(), study(), store.spec_records())
    frame = pd.read_parquet(path)
    assert count == 72
    emotion = report.dimension("emotion", "judge").overall  # type: ignore[union-attr]
    flags = frame["adherence.emotion.judge"]
    assert int((flags == True).sum()) == emotion.k  # noqa: E712
    assert int(flags.isna().sum()) == emotion.n_not_judged
    shot = frame["adherence.shot_size.judge"]  # eye-level prompts name no shot size: no flag at all
    assert shot[frame["camera"] == "eye-level"].isna().all()
    requested = frame.set_index("camera")["requested.shot_size"]
    assert requested["eye-level"].isna().all() and (requested["low-angle close-up"] == "close-up").all()
    jealousy = frame[frame["emotion"] == "Jealousy"]["requested.emotion"]
    assert (jealousy == "anger | contempt | sadness").all()


def test_export_bad_input(run_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["export", str(run_dir), "--format", "xlsx"])
    assert result.exit_code == 2 and "parquet, csv, jsonl" in result.output
    result = CliRunner().invoke(
        app, ["export", str(run_dir), "--format", "csv", "--output", str(tmp_path / "no" / "x.csv")]
    )
    assert result.exit_code == 2 and "does not exist" in result.output
    with RunStore(run_dir, create=False) as store, pytest.raises(BadInput, match="is a folder"):
        export_run(store, study(), "csv", tmp_path)


def test_parquet_columns_say_what_they_measure(run_dir: Path) -> None:
    import pyarrow.parquet as pq

    with RunStore(run_dir, create=False) as store:
        path, _ = export_run(store, study(), "parquet")
    schema = pq.read_schema(path)
    clip = schema.field("clip.clip_score").metadata
    assert (
        clip[b"unit"] == b"cosine"
        and clip[b"better"] == b"higher"
        and clip[b"description"] == b"CLIP image-prompt cosine"
    )
    assert b"not judged" in schema.field("adherence.emotion.faces").metadata[b"description"]
    assert schema.field("prompt_text").metadata is None
