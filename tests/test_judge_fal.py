"""The fal judge against the local fake of fal's queue protocol."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from tests.servers.fal_server import FAL_TEST_KEY, FalFakeServer, Fault
from tests.servers.openai_server import good_answer
from viewfinder.analyze.runner import run_analysis
from viewfinder.providers.fal_vlm import VISION_ENDPOINT
from viewfinder.runfolder import open_run


def pixels(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(40, 40, 3), dtype=np.uint8)


@pytest.fixture()
def fal(monkeypatch: pytest.MonkeyPatch):
    with FalFakeServer(latency_s=0.05, key=FAL_TEST_KEY) as server:
        monkeypatch.setenv("VIEWFINDER_FAL_URL", server.url)
        monkeypatch.setenv("FAL_KEY", FAL_TEST_KEY)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        monkeypatch.delenv("VIEWFINDER_JUDGE_PRICE", raising=False)
        yield server


def judge(run_dir: Path, name: str = "auto") -> Any:
    store, study = open_run(run_dir)
    log = io.StringIO()
    with store:
        summary = run_analysis(store, study, ["judge"], judge=name, max_cost=None, console=Console(file=log))
    return summary, log.getvalue()


def rows(run_dir: Path) -> list[dict[str, Any]]:
    store, _ = open_run(run_dir)
    with store:
        table = store.measurement_table()
        ledger = [asdict(row) for row in store.ledger("judge")]
    return [{k: v for k, v in row.items() if k.startswith("judge.")} for row in table.values()] + ledger


def test_auto_picks_fal_and_stores_the_answer_with_reported_cost(fal: FalFakeServer, image_run) -> None:
    def router(arguments: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {
            "output": json.dumps(good_answer(scene_match="no")),
            "usage": {"prompt_tokens": 900, "completion_tokens": 120, "cost": 0.00042},
        }

    fal.set_result(VISION_ENDPOINT, router)
    run_dir = image_run([pixels(1)])
    summary, log = judge(run_dir)
    assert summary.failed == 0
    assert "judge: fal:google/gemini-2.5-flash via fal (auto: FAL_KEY is set" in log
    measured, ledger = rows(run_dir)
    assert measured["judge.judge_model"] == "fal:google/gemini-2.5-flash"
    assert measured["judge.scene_match"] == 0.0 and measured["judge.expression"] == "contempt"
    assert ledger["usd"] == pytest.approx(0.00042)
    assert ledger["detail"]["request_id"] in fal.queue
    submitted = fal.submissions(VISION_ENDPOINT)[0]
    assert submitted["model"] == "google/gemini-2.5-flash"
    assert submitted["image_urls"][0].startswith("data:image/png;base64,")
    assert '"additionalProperties":false' in submitted["system_prompt"]
    assert "<prompt_data>" in submitted["prompt"]
    assert all(r.headers.get("Authorization") == f"Key {FAL_TEST_KEY}" for r in fal.recorded())
    assert FAL_TEST_KEY not in log


def test_fal_prose_around_json_and_retry_after_bad_answer(fal: FalFakeServer, image_run) -> None:
    answers = iter(
        ['Sure! Here it is: {"title": 3}', "Here you go:\n" + json.dumps(good_answer()) + "\nHope this helps."]
    )
    fal.set_result(VISION_ENDPOINT, lambda arguments, ctx: {"output": next(answers)})
    run_dir = image_run([pixels(2)])
    summary, _ = judge(run_dir, "fal:qwen/qwen2.5-vl-72b-instruct")
    assert summary.failed == 0
    second = fal.submissions(VISION_ENDPOINT)[1]["prompt"]
    assert "Your previous answer" in second and "did not fit the form" in second
    measured, *ledger = rows(run_dir)
    assert measured["judge.title"] == "A Look That Speaks Volumes"
    assert [entry["usd"] for entry in ledger] == [0.0, 0.0]  # unknown price, no reported cost: $0 per call


def test_fal_without_usage_charges_the_estimate(fal: FalFakeServer, image_run) -> None:
    fal.set_result(VISION_ENDPOINT, lambda arguments, ctx: {"output": json.dumps(good_answer())})
    run_dir = image_run([pixels(6)])
    assert judge(run_dir)[0].failed == 0  # auto: fal:google/gemini-2.5-flash, a priced model
    _, ledger = rows(run_dir)
    assert ledger["usd"] == pytest.approx((10_000 * 0.30 + 700 * 2.50) / 1e6)
    assert "usage not reported: estimated" in ledger["detail"]["price"]


def test_fal_without_usage_books_nothing_for_answers_that_are_not_usable(fal: FalFakeServer, image_run) -> None:
    fal.set_result(VISION_ENDPOINT, lambda arguments, ctx: {"output": "I would rather not say."})
    run_dir = image_run([pixels(7)])
    assert judge(run_dir)[0].failed == 1  # auto: fal:google/gemini-2.5-flash, a priced model
    store, _ = open_run(run_dir)
    with store:
        ledger = store.ledger("judge")
    assert [entry.usd for entry in ledger] == [0.0, 0.0]  # two calls, nothing usable, no usage reported
    assert all("nothing usable: not charged" in (entry.detail or {})["price"] for entry in ledger)


def test_fal_429_then_success_and_model_errors_recorded(fal: FalFakeServer, image_run) -> None:
    fal.set_result(VISION_ENDPOINT, lambda arguments, ctx: {"output": json.dumps(good_answer())})
    fal.add_fault(Fault(route="submit", kind="http", status=429, headers={"Retry-After": "0"}, body={"detail": "busy"}))
    run_dir = image_run([pixels(3)])
    assert judge(run_dir)[0].failed == 0
    assert len(fal.submissions(VISION_ENDPOINT)) == 2

    fal.add_fault(Fault(route="submit", kind="error", times=-1))
    other = image_run([pixels(4)])
    summary, _ = judge(other)
    assert summary.failed == 1
    store, _ = open_run(other)
    with store:
        error = store.analysis_runs("judge")[0].error
    assert "CUDA out of memory" in error


def test_fal_rejected_key_stops_the_judge(fal: FalFakeServer, image_run, monkeypatch) -> None:
    monkeypatch.setenv("FAL_KEY", "wrong-fal-secret")
    run_dir = image_run([pixels(5)])
    summary, log = judge(run_dir)
    assert summary.failed == 1 and "HTTP 401" in summary.analyzers[0].error
    assert "wrong-fal-secret" not in log + summary.analyzers[0].error
