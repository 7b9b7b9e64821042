"""The BFL backend: submit and polling on the wire, moderation, lost tasks and where the key goes."""

from __future__ import annotations

import pytest

from tests.servers.bfl_server import BFL_TEST_KEY
from tests.servers.fake_api import Fault
from tests.test_backends_runner import generate
from viewfinder.errors import BadInput, FatalRunError
from viewfinder.providers.bfl import BflBackend, multiple_of_16
from viewfinder.providers.types import BackendSettings, GenerationRequest

MODEL = "bfl:flux-2-pro"


def test_submit_then_poll_until_ready(bfl_server, tmp_path):
    bfl_server.latency_s = 0.15
    summary, printed, jobs, images, ledger = generate(tmp_path, MODEL, limit=2)
    assert summary.completed == 2
    submits = bfl_server.recorded("POST", "submit")
    assert {r.path for r in submits} == {"/v1/flux-2-pro"} and all(r.headers["x-key"] == BFL_TEST_KEY for r in submits)
    for job in (j for j in jobs.values() if j["state"] == "completed"):
        assert job["request"] == {
            "prompt": job["prompt_text"],
            "seed": 0,
            "width": 1024,
            "height": 768,
            "output_format": "jpeg",
        }
        polls = [r for r in bfl_server.recorded("GET", "get_result") if r.query["id"] == [job["request_id"]]]
        assert len(polls) >= 3 and all(r.headers["x-key"] == BFL_TEST_KEY for r in polls)
        result = job["response"]["result"]
        assert result["status"] == "Ready" and result["cost"] == 3.0 and result["output_mp"] == 0.79
        image = next(i for i in images if i["job_id"] == job["id"])
        assert image["source_url"] == result["result"]["sample"] and "sig=" in image["source_url"]
        assert image["seed"] == 0 and image["cost_usd"] == 0.03


DERIVATIVE = "{'Moderation Reasons': ['Derivative Works Filter']}"


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("moderate", f"BFL moderation blocked the prompt (Request Moderated): {DERIVATIVE}"),
        ("moderate_output", f"BFL moderation blocked the image (Content Moderated): {DERIVATIVE}"),
        ("error", "BFL reported an error: Internal error: CUDA out of memory (injected)"),
    ],
)
def test_moderation_and_errors_fail_only_that_job(bfl_server, tmp_path, kind, message):
    bfl_server.add_fault(Fault("submit", kind, match="superhero"))
    summary, printed, jobs, images, ledger = generate(tmp_path, MODEL)
    assert (summary.completed, summary.failed, len(ledger)) == (9, 1, 9)
    assert next(j["last_error"] for j in jobs.values() if j["state"] == "failed") == message


@pytest.mark.parametrize(
    "fault",
    [Fault("get_result", "forget"), Fault("get_result", "http", status=404, body={"detail": "Not Found"})],
    ids=["task-not-found", "http-404"],
)
def test_a_lost_task_is_submitted_again(bfl_server, tmp_path, fault):
    bfl_server.latency_s = 0.1
    bfl_server.add_fault(fault)
    summary, printed, jobs, *_ = generate(tmp_path, MODEL, limit=3)
    assert (summary.completed, summary.failed) == (3, 0)
    assert len(bfl_server.submissions()) == 4
    assert sorted(j["attempts"] for j in jobs.values() if j["state"] == "completed") == [1, 1, 2]


def test_no_credits_stops_the_run(bfl_server, tmp_path):
    bfl_server.add_fault(Fault("submit", "http", status=402, body={"detail": "Insufficient credits"}, times=-1))
    with pytest.raises(FatalRunError, match="no credit left") as stopped:
        generate(tmp_path, MODEL, concurrency=1)
    assert "HTTP 402: Insufficient credits" in str(stopped.value) and "dashboard.bfl.ai" in str(stopped.value)
    assert len(bfl_server.submissions()) == 1


def test_the_key_is_not_sent_to_a_polling_url_on_a_foreign_host(bfl_server, tmp_path):
    bfl_server.polling_host = "http://collector.invalid:9"
    summary, printed, jobs, *_ = generate(tmp_path, MODEL, limit=1)
    assert summary.completed == 1  # polled {BFL_BASE_URL}/v1/get_result instead
    assert next(iter(jobs.values()))["response"]["queue"]["polling_url"].startswith(
        bfl_server.url + "/v1/get_result?id="
    )


@pytest.mark.parametrize(
    ("url", "trusted"),
    [
        ("https://api.eu.bfl.ai/v1/get_result?id=1", True),
        ("https://api.bfl.ai/v1/get_result?id=1", True),
        ("http://api.eu.bfl.ai/v1/get_result?id=1", False),
        ("https://bfl.ai.evil.com/x", False),
        ("https://evilbfl.ai/x", False),
        ("ftp://api.bfl.ai/x", False),
    ],
)
def test_regional_hosts_are_trusted_and_lookalikes_are_not(url, trusted):
    backend = BflBackend("flux-2-pro", BFL_TEST_KEY, BackendSettings(), "https://api.bfl.ai")
    assert backend._is_api_host(url) is trusted


def test_sizes_are_multiples_of_16_and_ultra_takes_an_aspect_ratio():
    request = GenerationRequest("j", "m", "a prompt", 7, {"width": 1000, "height": 700, "output_format": "png"})
    assert BflBackend("flux-2-pro", BFL_TEST_KEY, BackendSettings()).payload(request) == {
        "prompt": "a prompt",
        "seed": 7,
        "width": 1008,
        "height": 704,
        "output_format": "png",
    }
    ultra = BflBackend("flux-pro-1.1-ultra", BFL_TEST_KEY, BackendSettings()).payload(
        GenerationRequest("j", "m", "a prompt", 7, {"image_size": "landscape_16_9"})
    )
    assert ultra == {"prompt": "a prompt", "seed": 7, "aspect_ratio": "16:9", "output_format": "jpeg"}
    assert [multiple_of_16(x) for x in (1, 63, 700, 1023, 1024)] == [64, 64, 704, 1024, 1024]


def test_a_task_that_never_finishes_fails_without_a_cancel_endpoint(bfl_server, tmp_path):
    bfl_server.latency_s = 60
    summary, printed, jobs, *_ = generate(tmp_path, MODEL, limit=1, job_timeout_s=0.3)
    assert summary.failed == 1
    assert "cancelling it failed" in next(iter(jobs.values()))["last_error"]


@pytest.mark.parametrize("model_id", ["Flux-2-Pro", "flux/2", ""])
def test_malformed_model_ids_are_bad_input(model_id):
    with pytest.raises(BadInput, match="bfl:flux-2-pro"):
        BflBackend(model_id, BFL_TEST_KEY, BackendSettings())
