"""The Replicate backend: prediction create/poll/cancel on the wire, and its own faults."""

from __future__ import annotations

import pytest

from tests.servers.fake_api import Fault
from tests.servers.replicate_server import REPLICATE_TEST_TOKEN
from tests.test_backends_runner import generate
from viewfinder.errors import BadInput
from viewfinder.providers.pricing import nearest_aspect
from viewfinder.providers.replicate import ASPECT_RATIOS, ReplicateBackend
from viewfinder.providers.types import BackendSettings

MODEL = "replicate:black-forest-labs/flux-schnell"
VERSION = "5599ed30703defd1d160a25a63321b4dec97101d98b4674bcc56e41f62f35637"


@pytest.mark.parametrize(
    ("width", "height", "ratio"),
    [
        (1024, 768, "4:3"),
        (1024, 1024, "1:1"),
        (768, 1024, "3:4"),
        (1024, 576, "16:9"),
        (576, 1024, "9:16"),
        (2100, 900, "21:9"),
    ],
)
def test_sizes_map_to_the_nearest_aspect_ratio(width, height, ratio):
    assert nearest_aspect(width, height, ASPECT_RATIOS) == ratio


def test_create_then_poll_until_succeeded(replicate_server, tmp_path):
    replicate_server.latency_s = 0.15
    summary, printed, jobs, images, ledger = generate(tmp_path, MODEL, limit=2)
    assert summary.completed == 2
    creates = replicate_server.recorded("POST", "create")
    assert {r.path for r in creates} == {"/v1/models/black-forest-labs/flux-schnell/predictions"}
    assert all(r.headers["Authorization"] == f"Bearer {REPLICATE_TEST_TOKEN}" for r in creates)
    for job in (j for j in jobs.values() if j["state"] == "completed"):
        body = job["request"]
        assert body == {
            "input": {
                "prompt": job["prompt_text"],
                "seed": 0,
                "aspect_ratio": "4:3",
                "num_outputs": 1,
                "num_inference_steps": 4,
                "output_format": "jpg",
                "disable_safety_checker": False,
                "go_fast": False,
            }
        }
        polls = [r for r in replicate_server.recorded("GET", "get") if r.path == f"/v1/predictions/{job['request_id']}"]
        assert len(polls) >= 3  # starting, processing, ..., succeeded
        result = job["response"]["result"]
        assert result["status"] == "succeeded" and result["metrics"]["predict_time"] == 0.15
        image = next(i for i in images if i["job_id"] == job["id"])
        assert image["source_url"] == result["output"][0] and (image["width"], image["height"]) == (72, 54)


def test_a_pinned_version_is_created_through_v1_predictions(replicate_server, tmp_path):
    summary, printed, jobs, images, ledger = generate(tmp_path, f"{MODEL}:{VERSION}", limit=1)
    assert summary.completed == 1
    (create,) = replicate_server.recorded("POST", "create")
    assert create.path == "/v1/predictions" and create.body["version"] == VERSION
    assert summary.cost_usd == 0.0  # no built-in price for a pinned version: the study's [prices] table sets it


def test_the_schemas_own_validation_error_fails_the_jobs(replicate_server, tmp_path):
    summary, printed, jobs, *_ = generate(
        tmp_path, MODEL, {"num_inference_steps = 4": "num_inference_steps = 8"}, limit=2
    )
    assert summary.failed == 2
    error = next(iter(j["last_error"] for j in jobs.values() if j["state"] == "failed"))
    assert error == (
        "Replicate rejected the input (HTTP 422): "
        "Input validation failed: - input.num_inference_steps: Must be less than or equal to 4"
    )


def test_a_failed_prediction_fails_the_job_with_its_error(replicate_server, tmp_path):
    replicate_server.add_fault(Fault("create", "error", match="superhero"))
    summary, printed, jobs, *_ = generate(tmp_path, MODEL)
    assert (summary.completed, summary.failed) == (9, 1)
    assert next(j["last_error"] for j in jobs.values() if j["state"] == "failed") == (
        "Replicate prediction failed: CUDA out of memory (injected)"
    )


def test_a_forgotten_prediction_is_created_again(replicate_server, tmp_path):
    replicate_server.latency_s = 0.1
    replicate_server.add_fault(Fault("get", "forget", times=1))
    summary, printed, jobs, *_ = generate(tmp_path, MODEL, limit=3)
    assert (summary.completed, summary.failed) == (3, 0)
    assert len(replicate_server.submissions()) == 4
    assert sorted(j["attempts"] for j in jobs.values() if j["state"] == "completed") == [1, 1, 2]


def test_a_prediction_that_never_finishes_is_canceled(replicate_server, tmp_path):
    replicate_server.latency_s = 60
    summary, printed, jobs, *_ = generate(tmp_path, MODEL, limit=2, job_timeout_s=0.3)
    assert summary.failed == 2
    cancels = replicate_server.recorded("POST", "cancel")
    assert {r.path for r in cancels} == {
        f"/v1/predictions/{j['request_id']}/cancel" for j in jobs.values() if j["state"] == "failed"
    }
    assert all("the request was cancelled" in j["last_error"] for j in jobs.values() if j["state"] == "failed")
    assert all(p.canceled for p in replicate_server.predictions.values())


@pytest.mark.parametrize("model_id", ["flux-schnell", "a/b/c", "owner/name:NOTHEX!"])
def test_malformed_model_ids_are_bad_input(model_id):
    with pytest.raises(BadInput, match="owner/name"):
        ReplicateBackend(model_id, REPLICATE_TEST_TOKEN, BackendSettings())


def test_the_token_is_not_sent_to_prediction_urls_on_another_host(replicate_server, tmp_path, monkeypatch):
    real_body = replicate_server._body

    def elsewhere(prediction):
        body = real_body(prediction)
        body["urls"] = {"get": f"http://collector.invalid:9/{prediction.id}", "cancel": "http://collector.invalid:9/c"}
        return body

    monkeypatch.setattr(replicate_server, "_body", elsewhere)
    summary, printed, jobs, *_ = generate(tmp_path, MODEL, limit=1)
    assert summary.completed == 1  # polled {REPLICATE_BASE_URL}/v1/predictions/{id} instead
    job = next(j for j in jobs.values() if j["state"] == "completed")
    assert job["response"]["queue"]["get"] == f"{replicate_server.url}/v1/predictions/{job['request_id']}"
