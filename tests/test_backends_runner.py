"""The generation runner end-to-end on the OpenAI, Replicate and BFL backends, each against
its fake server: images and costs in the store, and the shared fault handling."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers.bfl_server import BFL_TEST_KEY
from tests.servers.fake_api import Fault
from tests.servers.openai_images_server import OPENAI_TEST_KEY
from tests.servers.replicate_server import REPLICATE_TEST_TOKEN
from tests.test_generate_runner import SEED_STUDY
from tests.test_generate_runner import generate as generate_run
from viewfinder.errors import BadInput, FatalRunError
from viewfinder.runfolder import init_run
from viewfinder.store import sha256_hex


@dataclass(frozen=True)
class Case:
    """One backend under test: its model, fake server fixture, key and wire details."""

    model: str
    fixture: str
    key_env: str
    key: str
    submit_route: str
    usd_per_image: float
    error_body: Any  # a provider-shaped error body with ``{detail}`` to fill in

    def error(self, detail: str) -> Any:
        return json.loads(json.dumps(self.error_body).replace("{detail}", detail))


OPENAI = Case(
    "openai:gpt-image-1.5",
    "openai_images_server",
    "OPENAI_API_KEY",
    OPENAI_TEST_KEY,
    "generate",
    0.05,
    {"error": {"message": "{detail}", "type": "invalid_request_error", "param": "prompt", "code": "invalid_value"}},
)
REPLICATE = Case(
    "replicate:black-forest-labs/flux-schnell",
    "replicate_server",
    "REPLICATE_API_TOKEN",
    REPLICATE_TEST_TOKEN,
    "create",
    0.003,
    {"title": "Input validation failed", "detail": "{detail}", "status": 422},
)
BFL = Case(
    "bfl:flux-2-pro",
    "bfl_server",
    "BFL_API_KEY",
    BFL_TEST_KEY,
    "submit",
    0.03,
    {"detail": [{"loc": ["body", "prompt"], "msg": "{detail}", "type": "value_error"}]},
)
CASES = [pytest.param(c, id=c.model.split(":")[0]) for c in (OPENAI, REPLICATE, BFL)]


def study_for(tmp_path: Path, model: str, edits: dict[str, str] | None = None) -> Path:
    """The seed study (ten prompts, landscape 4:3, jpeg) made with ``model``; ``edits``
    replaces text in it (``{"num_inference_steps = 4": "num_inference_steps = 8"}``)."""
    path = tmp_path / "study.toml"
    text = SEED_STUDY.read_text().replace('models = ["fal:fal-ai/flux/schnell"]', f"models = [{json.dumps(model)}]")
    for old, new in (edits or {}).items():
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)
    return path


def generate(tmp_path: Path, model: str, edits: dict[str, str] | None = None, **overrides: Any):
    """Run the generation stage with ``model``; returns (summary, printed text, jobs by id, images, ledger)."""
    return generate_run(tmp_path / "run", study_for(tmp_path, model, edits), **{"poll_interval_s": 0.01, **overrides})


@pytest.fixture(params=CASES)
def backend(request: pytest.FixtureRequest):
    """(case, its running fake server)."""
    case: Case = request.param
    return case, request.getfixturevalue(case.fixture)


def test_every_job_completes_with_its_image_and_cost(backend, tmp_path):
    case, server = backend
    summary, printed, jobs, images, ledger = generate(tmp_path, case.model)
    assert (summary.completed, summary.failed, summary.images) == (10, 0, 10)
    assert summary.cost_usd == pytest.approx(10 * case.usd_per_image)
    assert len(server.recorded("POST", case.submit_route)) == 10
    assert all(
        job["state"] == "completed" and job["attempts"] == 1 and job["cost_usd"] == case.usd_per_image
        for job in jobs.values()
    )
    for image in images:
        data = (tmp_path / "run" / image["path"]).read_bytes()
        assert (
            sha256_hex(data) == image["sha256"]
            and image["format"] == "jpeg"
            and image["cost_usd"] == case.usd_per_image
        )
        assert image["model"] == case.model
    assert len(ledger) == 10 and {row["usd"] for row in ledger} == {case.usd_per_image}
    assert f"${10 * case.usd_per_image:.4f}" in printed
    stored = b"".join(p.read_bytes() for p in (tmp_path / "run").glob("viewfinder.sqlite*"))
    assert case.key.encode() not in stored and case.key not in printed


def test_a_second_run_calls_nothing(backend, tmp_path):
    case, server = backend
    generate(tmp_path, case.model)
    before = len(server.recorded())
    summary, printed, *_ = generate(tmp_path, case.model)
    assert summary.completed == 0 and len(server.recorded()) == before
    assert "already completed" in printed


def test_a_rejected_key_stops_the_run_and_is_never_shown(backend, tmp_path):
    case, server = backend
    server.add_fault(
        Fault(
            case.submit_route, "http", status=401, body=case.error(f"Incorrect API key provided: {case.key}"), times=-1
        )
    )
    with pytest.raises(FatalRunError) as stopped:
        generate(tmp_path, case.model)
    message = str(stopped.value)
    assert "HTTP 401" in message and case.key_env in message and "Incorrect API key provided: ***" in message
    assert case.key not in message
    assert len(server.recorded("POST", case.submit_route)) <= 4  # one per worker at most
    store, _ = init_run(study_for(tmp_path, case.model), tmp_path / "run")
    with store:
        assert store.job_counts()["pending"] == 10


def test_a_wrong_key_is_refused_by_the_server(backend, tmp_path, monkeypatch):
    case, server = backend
    monkeypatch.setenv(case.key_env, "wrong-key-5150")
    with pytest.raises(FatalRunError) as stopped:
        generate(tmp_path, case.model, limit=1)
    assert "wrong-key-5150" not in str(stopped.value) and case.key_env in str(stopped.value)


def test_a_missing_key_is_bad_input_naming_the_variable(backend, tmp_path, monkeypatch):
    case, server = backend
    monkeypatch.delenv(case.key_env)
    with pytest.raises(BadInput, match=case.key_env):
        generate(tmp_path, case.model)
    assert server.recorded() == []


def test_a_rejected_input_fails_only_that_job_with_the_providers_detail(backend, tmp_path):
    case, server = backend
    status = 400 if case is OPENAI else 422
    server.add_fault(
        Fault(
            case.submit_route, "http", status=status, body=case.error("prompt mentions a superhero"), match="superhero"
        )
    )
    summary, printed, jobs, images, ledger = generate(tmp_path, case.model)
    assert (summary.completed, summary.failed, len(images)) == (9, 1, 9)
    failed = next(job for job in jobs.values() if job["state"] == "failed")
    assert "superhero" in failed["prompt_text"]
    assert (
        f"rejected the input (HTTP {status})" in failed["last_error"]
        and "prompt mentions a superhero" in failed["last_error"]
    )
    assert len(server.recorded("POST", case.submit_route)) == 10  # never retried


def test_rate_limits_wait_for_retry_after(backend, tmp_path):
    case, server = backend
    server.add_fault(
        Fault(case.submit_route, "http", status=429, headers={"Retry-After": "1"}, body=case.error("Too many requests"))
    )
    started = time.perf_counter()
    summary, printed, *_ = generate(tmp_path, case.model, concurrency=1, limit=1)
    assert (summary.completed, summary.retries) == (1, 1)
    assert time.perf_counter() - started >= 1.0
    assert "HTTP 429" in printed and ("in 1.0 s" in printed or "in 1.1 s" in printed)


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_and_dropped_connections_are_retried(backend, tmp_path, status):
    case, server = backend
    server.add_fault(Fault(case.submit_route, "http", status=status, body=case.error("upstream hiccup"), times=2))
    server.add_fault(Fault("file" if case is not OPENAI else case.submit_route, "drop", times=1))
    summary, printed, jobs, *_ = generate(tmp_path, case.model, limit=3)
    assert (summary.completed, summary.failed) == (3, 0) and summary.retries >= 2
    assert f"HTTP {status}" in printed
    if case is OPENAI:  # 3 answered, 2 server errors, 1 dropped
        assert len(server.recorded("POST", "generate")) == 6
    else:  # the dropped download was asked again
        assert len(server.recorded("POST", case.submit_route)) == 5 and len(server.recorded("GET", "file")) == 4


def test_dry_run_estimates_the_cost_and_calls_nothing(backend, tmp_path):
    case, server = backend
    summary, printed, jobs, *_ = generate(tmp_path, case.model, dry_run=True, limit=4)
    assert server.recorded() == []
    assert summary.estimated_cost_usd == pytest.approx(4 * case.usd_per_image)
    assert f"estimated cost: ${4 * case.usd_per_image:.4f} for 4 images" in printed


def test_max_cost_stops_before_the_budget_with_per_image_prices(openai_images_server, tmp_path):
    summary, printed, jobs, images, ledger = generate(tmp_path, OPENAI.model, max_cost=0.12, concurrency=1)
    assert (summary.completed, summary.skipped) == (2, 8)
    assert sum(row["usd"] for row in ledger) == pytest.approx(0.10)
