"""The run store: schema, migrations, job states, images, measurements, ledger, status."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from viewfinder.errors import BadInput
from viewfinder.store import (
    Measurement,
    MeasurementSpec,
    NewImage,
    RunStore,
    write_image,
)
from viewfinder.store.schema import SCHEMA_VERSION
from viewfinder.study import expand_jobs, load_study

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def store(tmp_path: Path) -> RunStore:
    with RunStore(tmp_path / "run") as opened:
        yield opened


@pytest.fixture()
def seed_jobs():
    return list(expand_jobs(load_study(ROOT / "examples" / "seed.toml")))


def test_new_store_is_wal_with_foreign_keys_and_current_schema(store: RunStore) -> None:
    with sqlite3.connect(store.path) as conn:  # WAL is a property of the file
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version == SCHEMA_VERSION
    assert (store.run_dir / "images").is_dir()


def test_foreign_keys_are_enforced(store: RunStore) -> None:
    image = NewImage(sha256="0" * 64, path="images/00/x.png", size=1, fmt="png", width=1, height=1, cost_usd=0)
    with pytest.raises(sqlite3.IntegrityError):
        store.add_image("no-such-job", image, model="m", seed=0)
    assert store.images() == []


def test_reopening_keeps_data_and_does_not_remigrate(tmp_path: Path, seed_jobs) -> None:
    with RunStore(tmp_path) as first:
        assert first.add_jobs(seed_jobs) == 10
    with RunStore(tmp_path) as second:
        assert second.add_jobs(seed_jobs) == 0
        assert second.job_counts()["pending"] == 10


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    with RunStore(tmp_path) as opened:
        path = opened.path
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(BadInput, match="newer than this viewfinder"):
        RunStore(tmp_path)


def test_open_without_create_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not a run folder"):
        RunStore(tmp_path / "absent", create=False)
    assert not (tmp_path / "absent").exists()


def test_job_lifecycle_image_cost_and_status(store: RunStore, seed_jobs) -> None:
    store.add_jobs(seed_jobs)
    job = store.jobs()[0]
    assert job.prompt_text.startswith("facial-expressions Jealousy: Lonely and envious")
    store.mark_submitted(job.id, request_id="req-1", attempts=1, request={"status_url": "u"}, response={"queue": {}})
    assert store.jobs(ids=[job.id])[0].state == "submitted"
    data = b"\x89PNG fake bytes"
    digest, rel = write_image(store.run_dir, data, "png")
    assert (store.run_dir / rel).read_bytes() == data
    assert rel == f"images/{digest[:2]}/{digest}.png"
    image = NewImage(
        sha256=digest,
        path=rel,
        size=len(data),
        fmt="png",
        width=8,
        height=8,
        cost_usd=0.003,
        detail={"request_id": "req-1"},
    )
    store.record_generation(job, [image], seed=job.seed, response={"result": "r"})
    store.fail_job(store.jobs()[1].id, "422: bad prompt", attempts=1)
    info = store.status()
    assert info["jobs"] == {"pending": 8, "submitted": 0, "completed": 1, "failed": 1}
    assert info["images"] == 1
    assert info["cost_usd"]["generation"] == pytest.approx(0.003)
    done = store.jobs(ids=[job.id])[0]
    assert (done.state, done.request, done.response, done.cost_usd) == (
        "completed",
        {"status_url": "u"},
        {"result": "r"},
        0.003,
    )
    failed = store.jobs(states=["failed"])[0]
    assert (failed.last_error, failed.attempts) == ("422: bad prompt", 1)
    row = store.images()[0]
    assert row.emotion == "Jealousy" and row.camera == "eye-level" and row.prompt_field("camera") == "eye-level"
    assert (row.job_id, row.sha256, row.path, row.width, row.cost_usd) == (job.id, digest, rel, 8, 0.003)
    [entry] = store.ledger()
    assert (entry.kind, entry.job_id, entry.image_id, entry.detail) == (
        "generation",
        job.id,
        row.id,
        {"request_id": "req-1"},
    )
    assert [(t.kind, t.model, t.entries) for t in store.cost_totals()] == [("generation", job.model, 1)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.camera = "high-angle"  # type: ignore[misc]


def test_measurements_are_versioned_and_failures_recorded(store: RunStore, seed_jobs) -> None:
    store.add_jobs(seed_jobs[:2])
    ids = []
    for job in store.jobs():
        digest, rel = write_image(store.run_dir, job.id.encode(), "png")
        image = NewImage(sha256=digest, path=rel, size=16, fmt="png", width=1, height=1, cost_usd=0)
        ids.append(store.add_image(job.id, image, model=job.model, seed=job.seed))
    store.register_specs("pixels", "1", [MeasurementSpec("entropy", "bits", "none", "Shannon entropy")])
    store.write_analysis("pixels", "1", [Measurement(ids[0], "entropy", 6.5)], [ids[0]], {ids[1]: "cannot decode"})
    assert store.analyzed_image_ids("pixels", "1") == {ids[0]}
    assert store.analyzed_image_ids("pixels", "1", include_failed=True) == set(ids)
    assert store.analyzed_image_ids("pixels", "2") == set()
    assert store.measurement_table() == {ids[0]: {"pixels.entropy": 6.5}}
    store.write_analysis("pixels", "2", [Measurement(ids[0], "entropy", 7.0, None)], [ids[0]])
    assert store.measurement_table()[ids[0]]["pixels.entropy"] == 7.0
    assert store.specs()[("pixels", "entropy")].unit == "bits"
    assert [(r.image_id, r.status, r.error) for r in store.analysis_runs("pixels")] == [
        (ids[0], "done", None),
        (ids[1], "failed", "cannot decode"),
    ]
    assert [(m.version, m.value) for m in store.measurements("pixels")] == [("2", 7.0)]
    assert store.measurement_pairs() == {ids[0]: {"pixels.entropy": (7.0, None)}}
    assert [(r.analyzer, r.version, r.done, r.failed) for r in store.analyzer_runs()] == [
        ("pixels", "1", 0, 1),
        ("pixels", "2", 1, 0),
    ]


def test_failed_transaction_rolls_back(store: RunStore, seed_jobs) -> None:
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.set_meta("k", 1)
            raise RuntimeError("boom")
    assert store.get_meta("k") is None


def test_status_command_json(tmp_path: Path, seed_jobs) -> None:
    with RunStore(tmp_path) as opened:
        opened.add_jobs(seed_jobs)
        opened.set_meta("study_name", "seed")
    result = subprocess.run(
        [sys.executable, "-m", "viewfinder", "status", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["jobs"]["pending"] == 10 and info["images"] == 0 and info["study"] == "seed"
    table = subprocess.run(
        [sys.executable, "-m", "viewfinder", "status", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert "jobs pending" in table.stdout and "10" in table.stdout


def test_identical_images_written_from_many_threads_at_once(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    data = bytes(range(256)) * 4096
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: write_image(tmp_path, data, "png"), range(64)))
    assert len(set(results)) == 1
    digest, rel = results[0]
    assert (tmp_path / rel).read_bytes() == data
    assert [p.name for p in (tmp_path / rel).parent.iterdir()] == [f"{digest}.png"]


def test_nested_transactions_commit_or_roll_back_as_one(store: RunStore) -> None:
    with store.transaction():
        store.set_meta("a", 1)
        store.set_meta("b", 2)
    assert (store.get_meta("a"), store.get_meta("b")) == (1, 2)
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.set_meta("c", 3)
            store.add_cost("judge", "openai:x", 0.01)
            raise RuntimeError("crash between the writes")
    assert store.get_meta("c") is None and store.total_cost() == 0


def test_cached_answers_come_from_finished_runs_of_the_same_version(store: RunStore, seed_jobs) -> None:
    store.add_jobs(seed_jobs[:3])
    digest, rel = write_image(store.run_dir, b"same bytes", "png")
    ids = [
        store.add_image(job.id, NewImage(digest, rel, 10, "png", 1, 1, 0.0), model=job.model, seed=job.seed)
        for job in store.jobs()
    ]
    store.write_analysis("judge", "1", [Measurement(ids[0], "title", text="A title")], [ids[0]])
    store.write_analysis("judge", "1", [], [], {ids[1]: "timed out"})
    store.write_analysis("judge", "2", [Measurement(ids[2], "title", text="Newer")], [ids[2]])
    [answer] = store.cached_answers("judge", "1", [digest, "f" * 64])
    prompt = store.jobs()[0].prompt_text
    assert (answer.sha256, answer.prompt_text, answer.image_id, answer.name, answer.text) == (
        digest,
        prompt,
        ids[0],
        "title",
        "A title",
    )
    assert store.cached_answers("judge", "1", []) == [] and store.cached_answers("pixels", "1", [digest]) == []
    assert [a.text for a in store.cached_answers("judge", "2", [digest])] == ["Newer"]
    assert store.analyzed_image_ids("judge") == {ids[0], ids[2]}
