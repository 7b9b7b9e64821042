"""The generation runner against the fake fal queue: happy path, faults, resume, budget."""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import asdict
from pathlib import Path

import pytest
from rich.console import Console

from tests.servers.fal_server import FAL_TEST_KEY, FalFakeServer, Fault
from viewfinder.errors import FatalRunError
from viewfinder.generate.runner import GenerateOptions, run_generation
from viewfinder.providers.fal import FalBackend
from viewfinder.providers.retry import RetryPolicy
from viewfinder.providers.types import BackendSettings, GenerationRequest
from viewfinder.runfolder import init_run
from viewfinder.store import sha256_hex

SEED_STUDY = Path(__file__).resolve().parent.parent / "examples" / "seed.toml"
FAST_RETRY = RetryPolicy(attempts=4, initial_s=0.01, max_s=0.05)


def options(**overrides) -> GenerateOptions:
    settings = {"concurrency": 4, "timeout_s": 2.0, "retry": FAST_RETRY}
    settings.update(overrides)
    return GenerateOptions(**settings)


def generate(run_dir: Path, study_path: Path = SEED_STUDY, **overrides):
    """Run the generation stage on a run folder; returns (summary, printed text, store rows)."""
    buffer = io.StringIO()
    store, study = init_run(study_path, run_dir)
    with store:
        summary = run_generation(store, study, options(**overrides), Console(file=buffer, width=200))
        jobs = {row.id: asdict(row) for row in store.jobs()}
        images = [asdict(row) for row in store.images()]
        ledger = [asdict(row) for row in store.ledger()]
    return summary, buffer.getvalue(), jobs, images, ledger


def test_every_job_completes_with_its_file_request_and_cost(fal_server: FalFakeServer, tmp_path: Path):
    summary, printed, jobs, images, ledger = generate(tmp_path / "run")
    assert (summary.completed, summary.failed, summary.images) == (10, 0, 10)
    assert summary.cost_usd == pytest.approx(0.03)
    assert all(job["state"] == "completed" and job["attempts"] == 1 for job in jobs.values())
    submits = fal_server.recorded("POST", "submit")
    assert len(submits) == 10 and all(r.headers["Authorization"] == f"Key {FAL_TEST_KEY}" for r in submits)
    sent = {r.body["prompt"]: r.body for r in submits}
    for job in jobs.values():
        body = sent[job["prompt_text"]]
        assert body == {
            "prompt": job["prompt_text"],
            "image_size": "landscape_4_3",
            "num_inference_steps": 4,
            "seed": 0,
            "num_images": 1,
            "enable_safety_checker": True,
            "output_format": "jpeg",
        }
        assert job["request"] == body
        response = job["response"]
        assert response["queue"]["status_url"].endswith(f"/requests/{job['request_id']}/status")
        result = response["result"]
        assert set(result) >= {"images", "timings", "seed", "has_nsfw_concepts", "prompt"}
        assert result["images"][0]["content_type"] == "image/jpeg"
    for image in images:
        data = (tmp_path / "run" / image["path"]).read_bytes()
        assert sha256_hex(data) == image["sha256"] and len(data) == image["bytes"]
        assert (image["format"], image["width"], image["height"], image["cost_usd"]) == ("jpeg", 64, 48, 0.003)
        assert image["source_url"].startswith(fal_server.url + "/files/")
    assert sorted(row["job_id"] for row in ledger) == sorted(jobs)
    assert all(row["kind"] == "generation" and row["usd"] == 0.003 for row in ledger)
    assert "10/10" in printed and "$0.0300" in printed


def test_a_second_run_calls_nothing_for_completed_jobs(fal_server, tmp_path):
    generate(tmp_path / "run")
    before = len(fal_server.requests)
    summary, printed, *_ = generate(tmp_path / "run")
    assert summary.completed == 0 and len(fal_server.requests) == before
    assert "already completed" in printed


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried(fal_server, tmp_path, status):
    fal_server.add_fault(Fault("submit", "http", status=status, times=3))
    fal_server.add_fault(Fault("result", "http", status=status, times=2))
    summary, printed, jobs, *_ = generate(tmp_path / "run")
    assert (summary.completed, summary.failed, summary.retries) == (10, 0, 5)
    assert f"HTTP {status}" in printed


def test_rate_limit_waits_for_retry_after(fal_server, tmp_path):
    fal_server.add_fault(
        Fault("submit", "http", status=429, headers={"Retry-After": "1"}, body={"detail": "Too many requests"})
    )
    started = time.perf_counter()
    summary, printed, jobs, *_ = generate(tmp_path / "run", concurrency=1, limit=1)
    assert summary.completed == 1 and summary.retries == 1
    assert time.perf_counter() - started >= 1.0
    assert "in 1.0 s" in printed or "in 1.1 s" in printed


@pytest.mark.parametrize(
    "fault",
    [
        Fault("submit", "delay", delay_s=1.5, times=2),  # slower than the 0.5 s timeout
        Fault("stream", "delay", delay_s=1.5, times=2),
        Fault("result", "drop", times=3),
        Fault("file", "drop", times=2),
        Fault("status", "drop", times=2),
        Fault("submit", "truncate", times=2),
        Fault("result", "truncate", times=2),
    ],
    ids=lambda f: f"{f.route}-{f.kind}",
)
def test_timeouts_resets_and_truncated_json_are_retried(fal_server, tmp_path, fault):
    # Each faulty submit answer reached the server, so its retry is a second submission.
    duplicates = fault.times if fault.route == "submit" else 0
    fal_server.add_fault(fault)
    if fault.route == "status":  # plain status polling only happens where streams are missing
        fal_server.add_fault(Fault("stream", "forget", times=-1))
    summary, printed, jobs, *_ = generate(tmp_path / "run", timeout_s=0.5, poll_interval_s=0.02)
    assert (summary.completed, summary.failed) == (10, 0)
    assert fault.times == 0  # every scripted fault fired
    if fault.route == "stream":  # a quiet stream is checked with a plain status request, then rejoined
        assert len(fal_server.recorded("GET", "status")) >= 2
    elif fault.kind != "drop":  # aiohttp itself resends a GET whose reused connection was dropped
        assert summary.retries >= 1
    assert len(fal_server.submissions()) == 10 + duplicates


def test_validation_error_fails_only_that_job_with_fals_detail(fal_server, tmp_path):
    detail = [{"loc": ["body", "prompt"], "msg": "String should have at most 10 characters", "type": "string_too_long"}]
    fal_server.add_fault(Fault("submit", "http", status=422, body={"detail": detail}, match="superhero"))
    summary, printed, jobs, *_ = generate(tmp_path / "run")
    assert (summary.completed, summary.failed) == (9, 1)
    failed = [job for job in jobs.values() if job["state"] == "failed"]
    assert "superhero" in failed[0]["prompt_text"]
    assert (
        failed[0]["last_error"]
        == "fal rejected the input (HTTP 422): prompt: String should have at most 10 characters (string_too_long)"
    )
    assert "string_too_long" in printed


def test_model_error_on_completion_fails_the_job(fal_server, tmp_path):
    fal_server.add_fault(Fault("submit", "error", match="gamer staring"))
    summary, printed, jobs, *_ = generate(tmp_path / "run")
    assert summary.failed == 1
    assert "CUDA out of memory" in next(j["last_error"] for j in jobs.values() if j["state"] == "failed")


def test_rejected_key_stops_the_whole_run_without_showing_the_key(fal_server, tmp_path, monkeypatch):
    monkeypatch.setenv("FAL_KEY", "wrong-secret-key-123")
    with pytest.raises(FatalRunError) as stopped:
        generate(tmp_path / "run")
    message = str(stopped.value)
    assert "HTTP 401" in message and "FAL_KEY" in message and "wrong-secret-key-123" not in message
    store, _ = init_run(SEED_STUDY, tmp_path / "run")
    with store:
        assert store.job_counts()["pending"] == 10
    assert len(fal_server.recorded("POST", "submit")) <= 4  # one per worker at most


def test_forbidden_is_fatal_too(fal_server, tmp_path):
    fal_server.add_fault(
        Fault("any", "http", status=403, body={"detail": "Forbidden: key fal-test-key-7f3a9c"}, times=-1)
    )
    with pytest.raises(FatalRunError) as stopped:
        generate(tmp_path / "run")
    assert "HTTP 403" in str(stopped.value) and FAL_TEST_KEY not in str(stopped.value)


def test_html_instead_of_an_image_fails_the_job(fal_server, tmp_path):
    fal_server.add_fault(Fault("file", "html"))
    summary, printed, jobs, images, _ = generate(tmp_path / "run", concurrency=1)
    assert (summary.completed, summary.failed, len(images)) == (9, 1, 9)
    assert "returned text/html, not an image" in next(j["last_error"] for j in jobs.values() if j["state"] == "failed")


def test_a_100_megapixel_png_is_refused_before_decoding(fal_server, tmp_path):
    fal_server.add_fault(Fault("file", "bomb"))
    summary, printed, jobs, images, ledger = generate(tmp_path / "run", concurrency=1)
    assert summary.failed == 1 and len(images) == len(ledger) == 9
    error = next(j["last_error"] for j in jobs.values() if j["state"] == "failed")
    assert "decompression-bomb" in error and "100000000 pixels" in error
    assert len(list((tmp_path / "run" / "images").rglob("*.png"))) == 0


def test_resume_waits_for_submitted_requests_and_resubmits_only_lost_ones(fal_server, tmp_path):
    """A run killed after submitting: the next run polls, and resubmits only what fal forgot."""
    store, study = init_run(SEED_STUDY, tmp_path / "run")
    with store:
        jobs = store.jobs()[:4]
        backend = FalBackend("fal-ai/flux/schnell", FAL_TEST_KEY, BackendSettings(), fal_server.url)

        async def submit_all():
            out = []
            for job in jobs:
                request = GenerationRequest(job.id, "fal-ai/flux/schnell", job.prompt_text, job.seed, job.params)
                out.append((job, request, await backend.submit(request)))
            await backend.aclose()
            return out

        for job, request, submission in asyncio.run(submit_all()):
            store.mark_submitted(
                job.id,
                request_id=submission.request_id,
                request=backend.payload(request),
                response={"queue": submission.urls},
                attempts=1,
            )
    lost = jobs[0].id
    fal_server.forget(store_request_id(tmp_path / "run", lost))
    summary, printed, rows, *_ = generate(tmp_path / "run")
    assert (summary.completed, summary.failed) == (10, 0)
    prompts = [body["prompt"] for body in fal_server.submissions()]
    assert len(prompts) == 11 and prompts.count(jobs[0].prompt_text) == 2
    assert all(prompts.count(job.prompt_text) == 1 for job in jobs[1:])
    assert rows[lost]["attempts"] == 2 and all(rows[job.id]["attempts"] == 1 for job in jobs[1:])


def store_request_id(run_dir: Path, job_id: str) -> str:
    store, _ = init_run(SEED_STUDY, run_dir)
    with store:
        request_id = store.jobs(ids=[job_id])[0].request_id
        assert request_id is not None
        return request_id


def test_max_cost_stops_submitting_before_the_budget_is_passed(fal_server, tmp_path):
    summary, printed, jobs, images, ledger = generate(tmp_path / "run", max_cost=0.01, concurrency=2)
    assert (summary.completed, summary.skipped) == (3, 7)
    assert len(fal_server.submissions()) == 3
    assert sum(row["usd"] for row in ledger) == pytest.approx(0.009)
    assert "--max-cost $0.0100" in printed
    summary, *_ = generate(tmp_path / "run", max_cost=0.015)  # the ledger counts what was spent before
    assert (summary.completed, summary.skipped) == (2, 5)


def test_study_prices_override_the_table(fal_server, tmp_path):
    study = tmp_path / "priced.toml"
    study.write_text(
        SEED_STUDY.read_text().replace("seeds = [0]", 'seeds = [0]\nprices = {"fal:fal-ai/flux/schnell" = 0.05}')
    )
    summary, printed, jobs, images, ledger = generate(tmp_path / "run", study, limit=2)
    assert summary.cost_usd == pytest.approx(0.1) and {row["usd"] for row in ledger} == {0.05}


def test_dry_run_lists_jobs_and_cost_and_calls_nothing(fal_server, tmp_path):
    summary, printed, jobs, *_ = generate(tmp_path / "run", dry_run=True, limit=3)
    assert fal_server.requests == []
    assert summary.planned == 3 and summary.estimated_cost_usd == pytest.approx(0.009)
    assert "estimated cost: $0.0090 for 3 images" in printed
    assert all(job["state"] == "pending" for job in jobs.values())


def test_a_request_that_never_finishes_is_cancelled(fal_server, tmp_path):
    fal_server.latency_s = 60
    summary, printed, jobs, *_ = generate(tmp_path / "run", limit=2, job_timeout_s=0.3)
    assert summary.failed == 2
    assert len(fal_server.recorded("PUT", "cancel")) == 2
    assert all("cancelled" in job["last_error"] for job in jobs.values() if job["state"] == "failed")


def test_provider_and_prompt_text_is_printed_literally_not_as_markup(fal_server, tmp_path):
    fal_server.add_fault(Fault("submit", "http", status=503, body={"detail": "[/red] down [bold]for[/bold] a bit"}))
    study = tmp_path / "marked.toml"
    study.write_text(SEED_STUDY.read_text().replace('"A single woman"', '"A [i]single[/i] woman"'))
    summary, printed, *_ = generate(tmp_path / "run", study, limit=2, concurrency=1)
    assert summary.completed == 2 and "HTTP 503: [/red] down [bold]for[/bold] a bit" in printed
    summary, printed, *_ = generate(tmp_path / "dry", study, dry_run=True)
    assert "A [i]single[/i] woman" in printed


def test_retry_after_on_a_submit_pauses_every_workers_submits(fal_server, tmp_path):
    fal_server.add_fault(
        Fault("submit", "http", status=429, headers={"Retry-After": "1"}, body={"detail": "Too many requests"})
    )
    fal_server.latency_s = 0.3  # workers are still busy with their first requests when the 429 comes
    summary, printed, *_ = generate(tmp_path / "run", concurrency=4, limit=8)
    assert summary.completed == 8 and summary.retries == 1
    posts = fal_server.recorded("POST", "submit")
    limited = posts[0].at
    later = [r.at - limited for r in posts[4:]]  # the submits after the first four
    assert later and min(later) >= 0.95


def test_the_store_batch_wait_holds_no_request_slot(fal_server, tmp_path, monkeypatch):
    """Ten jobs at C=2 with a 0.4 s store linger: were a slot held through the linger, the
    run would take at least 5 x 0.4 = 2 s; freed slots finish it in about one linger."""
    import viewfinder.generate.runner as runner

    monkeypatch.setattr(runner, "STORE_LINGER_S", 0.4)
    start = time.perf_counter()
    summary, *_ = generate(tmp_path / "run", concurrency=2)
    elapsed = time.perf_counter() - start
    assert (summary.completed, summary.images) == (10, 10)
    assert elapsed < 1.6, elapsed
