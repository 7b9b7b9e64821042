"""Conformance: the official OpenAI and Replicate Python clients against our fake servers.

If the vendors' own clients accept what the fakes answer (fields, status codes, error
shapes, polling), the backend tests that run against the fakes test the real protocol.
BFL publishes no Python client.
"""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from tests.servers.fake_api import Fault
from tests.servers.openai_images_server import OPENAI_TEST_KEY
from tests.servers.replicate_server import REPLICATE_TEST_TOKEN

openai = pytest.importorskip("openai")
replicate = pytest.importorskip("replicate")


@pytest.fixture()
def openai_client(openai_images_server):
    return openai.OpenAI(api_key=OPENAI_TEST_KEY, base_url=openai_images_server.url + "/v1", max_retries=0)


@pytest.fixture()
def replicate_client(replicate_server, monkeypatch):
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.02")
    return replicate.Client(api_token=REPLICATE_TEST_TOKEN, base_url=replicate_server.url)


def test_openai_sdk_generates_an_image_with_usage(openai_client, openai_images_server):
    answer = openai_client.images.generate(
        model="gpt-image-1.5",
        prompt="a lonely woman at a party",
        size="1536x1024",
        quality="medium",
        output_format="jpeg",
    )
    image = Image.open(io.BytesIO(base64.b64decode(answer.data[0].b64_json)))
    assert (image.format, image.size) == ("JPEG", (96, 64))
    assert (answer.size, answer.quality, answer.output_format) == ("1536x1024", "medium", "jpeg")
    assert answer.usage.output_tokens == 1584 and answer.usage.total_tokens == answer.usage.input_tokens + 1584
    (sent,) = openai_images_server.recorded("POST", "generate")
    assert {k.lower(): v for k, v in sent.headers.items()}["authorization"] == f"Bearer {OPENAI_TEST_KEY}"


def test_openai_sdk_reads_the_fakes_errors(openai_client, openai_images_server):
    with pytest.raises(openai.BadRequestError) as invalid:
        openai_client.images.generate(model="gpt-image-1.5", prompt="x", size="1000x1000")
    assert invalid.value.param == "size" and invalid.value.code == "invalid_value"
    openai_images_server.add_fault(Fault("generate", "moderate"))
    with pytest.raises(openai.BadRequestError) as blocked:
        openai_client.images.generate(model="gpt-image-1.5", prompt="x")
    assert blocked.value.code == "moderation_blocked"
    openai_images_server.add_fault(
        Fault(
            "generate",
            "http",
            status=429,
            headers={"Retry-After": "0"},
            body={"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
        )
    )
    with pytest.raises(openai.RateLimitError):
        openai_client.images.generate(model="gpt-image-1.5", prompt="x")
    wrong = openai.OpenAI(api_key="sk-wrong", base_url=openai_images_server.url + "/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        wrong.images.generate(model="gpt-image-1.5", prompt="x")
    assert refused.value.code == "invalid_api_key"


def test_replicate_sdk_creates_and_waits_for_a_prediction(replicate_client, replicate_server):
    replicate_server.latency_s = 0.1
    prediction = replicate_client.models.predictions.create(
        model="black-forest-labs/flux-schnell",
        input={"prompt": "a lonely woman at a party", "aspect_ratio": "4:3", "output_format": "png", "seed": 3},
    )
    assert prediction.status == "starting"
    prediction.wait()
    assert prediction.status == "succeeded" and prediction.metrics["predict_time"] == 0.1
    image = Image.open(io.BytesIO(replicate_client._client.get(prediction.output[0]).content))
    assert (image.format, image.size) == ("PNG", (72, 54))
    assert len(replicate_server.recorded("GET", "get")) >= 2


def test_replicate_sdk_run_uses_prefer_wait(replicate_client, replicate_server):
    replicate_server.latency_s = 0.1
    output = replicate_client.run(
        "black-forest-labs/flux-schnell", input={"prompt": "a crowded party", "output_format": "jpg"}
    )
    (url,) = output  # plain strings here: the client wraps only https:// URLs in FileOutput
    assert (
        url.startswith(replicate_server.url + "/files/")
        and replicate_client._client.get(url).content[:2] == b"\xff\xd8"
    )
    (create,) = replicate_server.recorded("POST", "create")
    assert {k.lower(): v for k, v in create.headers.items()}["prefer"].startswith("wait")
    assert replicate_server.recorded("GET", "get") == []  # the held answer was already final


def test_replicate_sdk_reads_the_fakes_errors(replicate_client, replicate_server):
    with pytest.raises(replicate.exceptions.ReplicateError) as invalid:
        replicate_client.models.predictions.create(
            model="black-forest-labs/flux-schnell", input={"prompt": "x", "num_inference_steps": 9}
        )
    assert invalid.value.status == 422 and "num_inference_steps" in invalid.value.detail
    replicate_server.add_fault(Fault("create", "error"))
    prediction = replicate_client.models.predictions.create(
        model="black-forest-labs/flux-schnell", input={"prompt": "x"}
    )
    prediction.wait()
    assert prediction.status == "failed" and "CUDA out of memory" in prediction.error
    wrong = replicate.Client(api_token="r8_wrong", base_url=replicate_server.url)
    with pytest.raises(replicate.exceptions.ReplicateError) as refused:
        wrong.models.predictions.create(model="black-forest-labs/flux-schnell", input={"prompt": "x"})
    assert refused.value.status == 401
