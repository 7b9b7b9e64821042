"""The analyzer runner: batching, skipping stored work, per-image failures, CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from viewfinder.analyze import registry
from viewfinder.analyze.base import AnalysisContext, AnalysisResult, Analyzer, CostEntry, ImageItem
from viewfinder.analyze.runner import run_analysis
from viewfinder.cli import app
from viewfinder.errors import BadInput
from viewfinder.runfolder import open_run
from viewfinder.store import Measurement, MeasurementSpec


def _images(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(count)]


class Recorder(Analyzer):
    """Measures the mean pixel; fails on chosen image ids; records every batch it saw."""

    name = "recorder"
    version = "1"
    batch_size = 2
    seen: list[list[int]] = []

    def __init__(self, fail_ids: set[int] = frozenset(), cost: float = 0.0) -> None:
        self.fail_ids = set(fail_ids)
        self.cost = cost

    @property
    def specs(self) -> list[MeasurementSpec]:
        return [MeasurementSpec("mean", "8-bit levels", "none", "mean pixel value")]

    def analyze(self, batch: list[ImageItem], context: AnalysisContext) -> AnalysisResult:
        Recorder.seen.append([item.image_id for item in batch])
        result = AnalysisResult()
        for item in batch:
            if item.image_id in self.fail_ids:
                result.failures[item.image_id] = "cannot measure this one"
                continue
            from PIL import Image

            mean = float(np.asarray(Image.open(item.path)).mean())
            result.measurements.append(Measurement(item.image_id, "mean", value=mean))
            if self.cost:
                result.costs.append(CostEntry(model="test:judge", usd=self.cost, image_id=item.image_id))
        return result


@pytest.fixture()
def recorder(monkeypatch: pytest.MonkeyPatch):
    Recorder.seen = []
    holder: dict[str, Recorder] = {}

    def install(**kwargs) -> None:
        monkeypatch.setitem(registry.ANALYZERS, "recorder", lambda analysis: holder.setdefault("a", Recorder(**kwargs)))

    return install


def _quiet() -> Console:
    return Console(file=open("/dev/null", "w"), width=120)


def test_batches_store_values_and_skip_on_rerun(image_run, recorder) -> None:
    images = _images(5)
    run_dir = image_run(images)
    recorder()
    store, study = open_run(run_dir)
    with store:
        summary = run_analysis(store, study, ["recorder"], judge=None, max_cost=None, console=_quiet())
        assert (summary.done, summary.failed, summary.skipped) == (5, 0, 0)
        assert [len(batch) for batch in Recorder.seen] == [2, 2, 1]
        rows = store.images()
        table = store.measurement_table()
        for row, pixels in zip(rows, images, strict=False):
            assert table[row.id]["recorder.mean"] == pytest.approx(pixels.mean())
        spec = store.specs()[("recorder", "mean")]
        assert (spec.version, spec.unit, spec.better) == ("1", "8-bit levels", "none")

        Recorder.seen = []
        again = run_analysis(store, study, ["recorder"], judge=None, max_cost=None, console=_quiet())
        assert (again.done, again.skipped) == (0, 5)
        assert Recorder.seen == []


def test_next_batch_is_prefetched_before_each_analysis(image_run, recorder, monkeypatch) -> None:
    calls: list[tuple[str, list[int]]] = []
    original = Recorder.analyze
    monkeypatch.setattr(
        Recorder, "prefetch", lambda self, batch: calls.append(("prefetch", [i.image_id for i in batch]))
    )
    monkeypatch.setattr(
        Recorder,
        "analyze",
        lambda self, batch, ctx: (calls.append(("analyze", [i.image_id for i in batch])), original(self, batch, ctx))[
            1
        ],
    )
    recorder()
    store, study = open_run(image_run(_images(5)))
    with store:
        ids = [row.id for row in store.images()]
        run_analysis(store, study, ["recorder"], judge=None, max_cost=None, console=_quiet())
    assert calls == [
        ("prefetch", ids[2:4]),
        ("analyze", ids[0:2]),
        ("prefetch", ids[4:5]),
        ("analyze", ids[2:4]),
        ("analyze", ids[4:5]),
    ]


def test_new_version_reanalyzes(image_run, recorder, monkeypatch) -> None:
    run_dir = image_run(_images(3))
    recorder()
    store, study = open_run(run_dir)
    with store:
        run_analysis(store, study, ["recorder"], judge=None, max_cost=None, console=_quiet())
        monkeypatch.setattr(Recorder, "version", "2")
        Recorder.seen = []
        summary = run_analysis(store, study, ["recorder"], judge=None, max_cost=None, console=_quiet())
        assert summary.done == 3 and summary.skipped == 0
        assert {row.version for row in store.measurements("recorder")} == {"2"}


def test_one_failure_does_not_stop_the_rest_and_is_retried(image_run, recorder) -> None:
    run_dir = image_run(_images(4))
    store, study = open_run(run_dir)
    with store:
        ids = [row.id for row in store.images()]
        recorder(fail_ids={ids[1]})
        summary = run_analysis(store, study, ["recorder"], judge=None, max_cost=None, console=_quiet())
        assert (summary.done, summary.failed) == (3, 1)
        runs = {r.image_id: (r.status, r.error) for r in store.analysis_runs()}
        assert runs[ids[1]] == ("failed", "cannot measure this one")
        assert {runs[i][0] for i in ids if i != ids[1]} == {"done"}
        assert ids[1] not in store.measurement_table()
        Recorder.seen = []
        retry = run_analysis(store, study, ["recorder"], judge=None, max_cost=None, console=_quiet())
        assert Recorder.seen == [[ids[1]]] and retry.failed == 1 and retry.skipped == 3


def test_a_raising_batch_fails_only_that_batch(image_run, monkeypatch) -> None:
    class Exploding(Recorder):
        def analyze(self, batch, context):
            if any(item.image_id == 1 for item in batch):
                raise RuntimeError("model blew up")
            return super().analyze(batch, context)

    monkeypatch.setitem(registry.ANALYZERS, "recorder", lambda analysis: Exploding())
    store, study = open_run(image_run(_images(4)))
    with store:
        summary = run_analysis(store, study, ["recorder"], judge=None, max_cost=None, console=_quiet())
        assert (summary.done, summary.failed) == (2, 2)
        errors = [r.error for r in store.analysis_runs() if r.status == "failed"]
        assert errors == ["RuntimeError: model blew up"] * 2


def test_fatal_error_stops_that_analyzer_keeps_stored_work_and_others_run(image_run, monkeypatch) -> None:
    from viewfinder.errors import FatalRunError

    class Rejected(Recorder):
        name = "rejected"

        def analyze(self, batch, context):
            if len(Recorder.seen) >= 1:
                raise FatalRunError("the API key was rejected (401); set a valid key")
            return super().analyze(batch, context)

    monkeypatch.setitem(registry.ANALYZERS, "rejected", lambda analysis: Rejected())
    store, study = open_run(image_run(_images(5)))
    with store:
        Recorder.seen = []
        summary = run_analysis(store, study, ["rejected", "pixels"], judge=None, max_cost=None, console=_quiet())
        rejected, pixels = summary.analyzers
        assert (rejected.done, rejected.failed) == (2, 3) and "rejected (401)" in rejected.error
        assert pixels.done == 5
        assert len(store.analyzed_image_ids("rejected", "1")) == 2


def test_missing_file_is_a_recorded_failure(image_run, recorder) -> None:
    store, study = open_run(image_run(_images(2)))
    recorder()
    with store:
        first = store.images()[0]
        store.image_path(first).unlink()
        summary = run_analysis(store, study, ["recorder"], judge=None, max_cost=None, console=_quiet())
        assert (summary.done, summary.failed) == (1, 1)
        error = next(r.error for r in store.analysis_runs() if r.image_id == first.id)
        assert error.startswith("image file missing")


def test_costs_go_to_the_ledger_and_budget_is_visible(image_run, recorder, monkeypatch) -> None:
    seen_budget: list[float] = []
    original = Recorder.analyze

    def spy(self, batch, context):
        seen_budget.append(context.budget_left_usd())
        return original(self, batch, context)

    monkeypatch.setattr(Recorder, "analyze", spy)
    recorder(cost=0.25)
    store, study = open_run(image_run(_images(3)))
    with store:
        summary = run_analysis(store, study, ["recorder"], judge=None, max_cost=2.0, console=_quiet())
        assert summary.cost_usd == pytest.approx(0.75)
        assert store.total_cost("judge") == pytest.approx(0.75)
        assert seen_budget == [pytest.approx(2.0), pytest.approx(1.5)]


def test_items_carry_prompt_fields_and_expressions(image_run, recorder, monkeypatch) -> None:
    items: list[ImageItem] = []
    original = Recorder.analyze
    monkeypatch.setattr(
        Recorder, "analyze", lambda self, batch, ctx: (items.extend(batch), original(self, batch, ctx))[1]
    )
    recorder()
    store, study = open_run(image_run(_images(1)))
    with store:
        run_analysis(store, study, ["recorder"], judge=None, max_cost=None, console=_quiet())
    (item,) = items
    assert item.fields["camera"] == "low-angle close-up"
    assert item.fields["emotion"] == "Jealousy"
    assert item.expressions == ("contempt", "anger", "sadness")
    assert item.prompt_text.startswith("facial-expressions Jealousy: Variant 0 ;")
    assert item.model == "fal:test/model" and item.path.is_file()


def test_unknown_analyzer_lists_the_known_ones(image_run) -> None:
    store, study = open_run(image_run(_images(1)))
    with store, pytest.raises(BadInput) as info:
        run_analysis(store, study, ["pixels", "nope"], judge=None, max_cost=None, console=_quiet())
    assert "'nope'" in str(info.value) and "pixels" in str(info.value) and "clip" in str(info.value)


def test_analyzer_that_cannot_be_built_fails_alone(image_run, recorder, monkeypatch) -> None:
    def broken(analysis):
        raise OSError("weights for test/clip are not downloaded")

    monkeypatch.setitem(registry.ANALYZERS, "broken", broken)
    recorder()
    store, study = open_run(image_run(_images(2)))
    with store:
        summary = run_analysis(store, study, ["broken", "recorder"], judge=None, max_cost=None, console=_quiet())
        broken_outcome, recorder_outcome = summary.analyzers
        assert broken_outcome.failed == 2 and "not downloaded" in broken_outcome.error
        assert recorder_outcome.done == 2
        assert summary.failed == 2


def test_judge_override_reaches_the_factory(image_run, monkeypatch) -> None:
    seen = []
    monkeypatch.setitem(registry.ANALYZERS, "recorder", lambda analysis: seen.append(analysis.judge) or Recorder())
    store, study = open_run(image_run(_images(1)))
    with store:
        run_analysis(store, study, ["recorder"], judge="openai:gpt-4o-mini", max_cost=None, console=_quiet())
        run_analysis(store, study, ["recorder"], judge=None, max_cost=None, console=_quiet())
    assert seen == ["openai:gpt-4o-mini", "auto"]


def test_cli_analyze_pixels_then_unknown_name(image_run) -> None:
    run_dir = image_run(_images(3))
    runner = CliRunner()
    result = runner.invoke(app, ["analyze", str(run_dir), "--analyzers", "pixels"])
    assert result.exit_code == 0, result.output
    store, _ = open_run(run_dir)
    with store:
        table = store.measurement_table()
    assert len(table) == 3
    assert all(0 < row["pixels.entropy"] <= 8 for row in table.values())
    bad = runner.invoke(app, ["analyze", str(run_dir), "--analyzers", "pixles"])
    assert bad.exit_code == 2
    assert "pixles" in bad.output and "Traceback" not in bad.output


def test_cli_analyze_exits_1_when_an_image_fails(image_run) -> None:
    run_dir = image_run(_images(2))
    store, _ = open_run(run_dir)
    with store:
        path = store.image_path(store.images()[0])
    path.write_bytes(b"not an image")
    result = subprocess.run(
        [sys.executable, "-m", "viewfinder", "analyze", str(run_dir), "--analyzers", "pixels"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "1 measured" in result.stderr and "1 failed" in result.stderr
