"""The OpenAI Images backend: what goes on the wire, what is stored, and its own faults."""

from __future__ import annotations

import json

import pytest

from tests.servers.fake_api import Fault
from tests.servers.openai_images_server import OPENAI_TEST_KEY
from tests.test_backends_runner import generate, study_for
from viewfinder.errors import BadInput, FatalRunError
from viewfinder.providers.openai_images import SIZES, OpenAIImagesBackend
from viewfinder.providers.pricing import nearest_aspect
from viewfinder.providers.types import BackendSettings, GenerationRequest
from viewfinder.runfolder import init_run

MODEL = "openai:gpt-image-1.5"


@pytest.mark.parametrize(
    ("width", "height", "size"),
    [
        (1024, 768, "1536x1024"),
        (1024, 1024, "1024x1024"),
        (768, 1024, "1024x1536"),
        (1024, 576, "1536x1024"),
        (1100, 1000, "1024x1024"),
        (576, 1024, "1024x1536"),
    ],
)
def test_sizes_map_to_the_supported_size_of_nearest_aspect_ratio(width, height, size):
    assert nearest_aspect(width, height, SIZES) == size


def test_the_request_and_the_stored_answer(openai_images_server, tmp_path):
    summary, printed, jobs, images, ledger = generate(tmp_path, MODEL, limit=2)
    assert summary.completed == 2
    sent = openai_images_server.recorded("POST", "generate")
    assert all(
        r.path == "/v1/images/generations" and r.headers["Authorization"] == f"Bearer {OPENAI_TEST_KEY}" for r in sent
    )
    by_prompt = {r.body["prompt"]: r.body for r in sent}
    for job in (j for j in jobs.values() if j["state"] == "completed"):
        body = by_prompt[job["prompt_text"]]
        assert body == {
            "model": "gpt-image-1.5",
            "prompt": job["prompt_text"],
            "n": 1,
            "size": "1536x1024",
            "quality": "medium",
            "output_format": "jpeg",
        }
        assert job["request"] == body
        assert job["request_id"].startswith("req_")  # the x-request-id header
        result = job["response"]["result"]
        assert result["usage"]["output_tokens"] == 1584 and result["usage"]["input_tokens"] > 0
        assert result["size"] == "1536x1024" and result["quality"] == "medium"
        assert "b64_json" not in json.dumps(result)  # the image is a file, not a database blob
        image = next(i for i in images if i["job_id"] == job["id"])
        assert result["data"][0]["image_bytes"] == image["bytes"]
        assert image["source_url"] is None and (image["width"], image["height"]) == (96, 64)


def test_square_and_portrait_studies_ask_for_those_sizes(tmp_path):
    study = study_for(tmp_path, MODEL, {'image_size = "landscape_4_3"': 'image_size = "portrait_4_3"'})
    store, loaded = init_run(study, tmp_path / "run")
    store.close()
    backend = OpenAIImagesBackend("gpt-image-1.5", OPENAI_TEST_KEY, BackendSettings())
    assert (
        backend.payload(GenerationRequest("j", "gpt-image-1.5", "p", 0, loaded.generation.model_dump()))["size"]
        == "1024x1536"
    )
    assert (
        backend.payload(GenerationRequest("j", "gpt-image-1.5", "p", 0, {"image_size": "square_hd"}))["size"]
        == "1024x1024"
    )
    assert (
        backend.payload(GenerationRequest("j", "gpt-image-1.5", "p", 0, {"width": 1200, "height": 700}))["size"]
        == "1536x1024"
    )


def test_the_safety_system_fails_only_that_job(openai_images_server, tmp_path):
    openai_images_server.add_fault(Fault("generate", "moderate", match="superhero"))
    summary, printed, jobs, images, ledger = generate(tmp_path, MODEL)
    assert (summary.completed, summary.failed) == (9, 1)
    error = next(j["last_error"] for j in jobs.values() if j["state"] == "failed")
    assert error.startswith("OpenAI rejected the input (HTTP 400)") and "(moderation_blocked)" in error
    assert sum(row["usd"] for row in ledger) == pytest.approx(9 * 0.05)


def test_an_exhausted_quota_stops_the_run_instead_of_retrying(openai_images_server, tmp_path):
    body = {
        "error": {
            "message": "You exceeded your current quota, please check your plan and billing details.",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    }
    openai_images_server.add_fault(Fault("generate", "http", status=429, body=body, times=-1))
    with pytest.raises(FatalRunError, match="no credit left") as stopped:
        generate(tmp_path, MODEL, concurrency=1)
    assert "platform.openai.com" in str(stopped.value)
    assert len(openai_images_server.recorded("POST", "generate")) == 1


def test_a_cut_off_answer_is_asked_again(openai_images_server, tmp_path):
    openai_images_server.add_fault(Fault("generate", "truncate", times=2))
    summary, printed, *_ = generate(tmp_path, MODEL, limit=3)
    assert (summary.completed, summary.failed, summary.retries) == (3, 0, 2)
    assert "not valid JSON" in printed


def test_an_interrupted_run_submits_again_what_it_never_received(openai_images_server, tmp_path):
    """The answer of a synchronous API dies with the process: resume makes that image again."""
    store, _ = init_run(study_for(tmp_path, MODEL), tmp_path / "run")
    with store:
        job = store.jobs()[0]
        store.mark_submitted(
            job.id, request_id="req_lost", request={"prompt": job.prompt_text}, response={"queue": {}}, attempts=1
        )
    summary, printed, jobs, images, ledger = generate(tmp_path, MODEL)
    assert (summary.completed, summary.failed) == (10, 0)
    assert jobs[job.id]["attempts"] == 2 and jobs[job.id]["request_id"] != "req_lost"
    assert len(openai_images_server.recorded("POST", "generate")) == 10


def test_a_model_id_with_a_slash_is_bad_input():
    with pytest.raises(BadInput, match="openai:gpt-image-1.5"):
        OpenAIImagesBackend("org/gpt-image", OPENAI_TEST_KEY, BackendSettings())
