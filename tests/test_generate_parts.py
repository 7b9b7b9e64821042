"""The generation parts on their own: retries, prices, image checks, the fal backend's edges."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import io
import re
import time

import aiohttp
import pytest
from PIL import Image

from tests.servers.fal_server import FAL_TEST_KEY, Fault
from viewfinder.errors import BadInput, ItemFailed, RequestUnknown, RetryableError
from viewfinder.generate.registry import make_backend
from viewfinder.providers.download import fetch_image, verify_image
from viewfinder.providers.fal import FalBackend
from viewfinder.providers.pricing import billed_megapixels, estimate_job_cost, image_cost, price_per_megapixel
from viewfinder.providers.retry import RetryPolicy, parse_retry_after, with_retries
from viewfinder.providers.types import BackendSettings, GenerationRequest, Submission


def encoded(size: tuple[int, int], fmt: str, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "red" if mode == "RGB" else 0).save(out, format=fmt)
    return out.getvalue()


# -- retries -----------------------------------------------------------------------------------
def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("3") == 3.0 and parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= parse_retry_after(future) <= 31


def test_backoff_doubles_with_jitter_and_honours_retry_after():
    policy = RetryPolicy(initial_s=0.5, max_s=4.0)
    for attempt, base in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 4.0)]:
        waits = [policy.wait_s(attempt, RetryableError("x")) for _ in range(200)]
        assert base / 2 <= min(waits) and max(waits) <= base and max(waits) - min(waits) > base / 10
    told = [policy.wait_s(1, RetryableError("429", retry_after=7)) for _ in range(50)]
    assert 7 <= min(told) and max(told) <= 7.7


def test_with_retries_retries_only_transient_errors_and_reports_each_pause():
    calls, notes = [], []

    async def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RetryableError("HTTP 503")
        return "ok"

    policy = RetryPolicy(attempts=5, initial_s=0.001, max_s=0.002)
    assert asyncio.run(with_retries(flaky, policy, lambda a, e, w: notes.append((a, str(e))))) == "ok"
    assert len(calls) == 3 and notes == [(1, "HTTP 503"), (2, "HTTP 503")]

    async def invalid():
        calls.append(1)
        raise ItemFailed("HTTP 422")

    calls.clear()
    with pytest.raises(ItemFailed):
        asyncio.run(with_retries(invalid, policy))
    assert len(calls) == 1

    async def down():
        calls.append(1)
        raise RetryableError("HTTP 502")

    calls.clear()
    with pytest.raises(RetryableError):
        asyncio.run(with_retries(down, RetryPolicy(attempts=3, initial_s=0.001)))
    assert len(calls) == 3


# -- prices ------------------------------------------------------------------------------------
def test_megapixels_round_up_and_prices_come_from_the_study_first():
    assert billed_megapixels(1024, 768) == 1 and billed_megapixels(1024, 1024) == 2 and billed_megapixels(64, 48) == 1
    model = "fal:fal-ai/flux/schnell"
    assert estimate_job_cost(model, {"image_size": "landscape_4_3"}) == 0.003
    assert estimate_job_cost(model, {"image_size": "square_hd"}) == 0.006
    assert estimate_job_cost(model, {"width": 2048, "height": 2048}) == pytest.approx(0.015)
    assert image_cost(model, 1024, 768, {model: 0.01}) == 0.01
    assert price_per_megapixel("fal:someone/unknown") is None and image_cost("fal:someone/unknown", 512, 512) == 0.0
    assert price_per_megapixel("diffusers:black-forest-labs/FLUX.1-schnell") == 0.0
    with pytest.raises(BadInput, match=r"image_size 'huge' is unknown"):
        estimate_job_cost(model, {"image_size": "huge"})


# -- image checks ------------------------------------------------------------------------------
def test_verify_accepts_real_images_and_reports_their_size():
    png = verify_image(encoded((40, 30), "PNG"))
    jpeg = verify_image(encoded((40, 30), "JPEG"))
    assert (png.format, png.ext, png.width, png.height) == ("png", "png", 40, 30)
    assert (jpeg.format, jpeg.ext) == ("jpeg", "jpg")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (encoded((40, 30), "JPEG")[:200], "does not decode"),
        (b"<html>not an image</html>", "does not decode"),
        (encoded((40, 30), "GIF", "P"), "GIF is not one of"),
        (encoded((8000, 6000), "PNG", "1"), "8000x6000 (48 MP), over the 40 MP decompression-bomb limit"),
        (encoded((10_000, 10_000), "PNG", "1"), "decompression-bomb guard"),
    ],
    ids=["truncated-jpeg", "html", "gif", "48-megapixel", "100-megapixel"],
)
def test_verify_refuses_broken_foreign_and_oversized_images(data, message):
    with pytest.raises(ItemFailed, match=re.escape(message)):
        verify_image(data)


def test_fetch_checks_status_type_and_size(fal_server):
    fal_server.files["x/ok.png"] = (encoded((16, 16), "PNG"), "image/png")
    fal_server.files["x/page.html"] = (b"<html></html>", "text/html")
    fal_server.add_fault(Fault("file", "http", status=503, match="busy"))
    fal_server.files["x/busy.png"] = fal_server.files["x/ok.png"]

    async def fetch(name: str, limit: int = 10_000) -> bytes:
        async with aiohttp.ClientSession() as session:
            return await fetch_image(session, f"{fal_server.url}/files/x/{name}", limit)

    assert asyncio.run(fetch("ok.png")) == fal_server.files["x/ok.png"][0]
    with pytest.raises(ItemFailed, match="returned text/html, not an image"):
        asyncio.run(fetch("page.html"))
    with pytest.raises(ItemFailed, match="over the 50-byte limit"):
        asyncio.run(fetch("ok.png", limit=50))
    with pytest.raises(RetryableError, match="HTTP 503"):
        asyncio.run(fetch("busy.png"))
    with pytest.raises(ItemFailed, match="HTTP 404"):
        asyncio.run(fetch("missing.png"))
    data_uri = "data:image/png;base64," + base64.b64encode(fal_server.files["x/ok.png"][0]).decode()
    assert asyncio.run(fetch_image(None, data_uri)) == fal_server.files["x/ok.png"][0]
    with pytest.raises(ItemFailed, match="not a base64 image"):
        asyncio.run(fetch_image(None, "data:text/plain,hello"))


# -- the fal backend ---------------------------------------------------------------------------
def request(**params) -> GenerationRequest:
    return GenerationRequest("job1", "fal-ai/flux/schnell", "a cat", 5, params)


def test_payload_maps_the_study_parameters_to_fals_input():
    backend = FalBackend("fal-ai/flux/schnell", "k" * 8, BackendSettings())
    assert backend.payload(
        request(
            width=640,
            height=480,
            num_inference_steps=2,
            guidance_scale=2.5,
            output_format="png",
            enable_safety_checker=False,
        )
    ) == {
        "prompt": "a cat",
        "image_size": {"width": 640, "height": 480},
        "num_inference_steps": 2,
        "seed": 5,
        "num_images": 1,
        "enable_safety_checker": False,
        "output_format": "png",
        "guidance_scale": 2.5,
    }


def test_backend_setup_errors_are_bad_input(monkeypatch):
    monkeypatch.delenv("FAL_KEY", raising=False)
    with pytest.raises(BadInput, match="FAL_KEY is not set"):
        make_backend("fal:fal-ai/flux/schnell", BackendSettings())
    monkeypatch.setenv("FAL_KEY", "k" * 8)
    with pytest.raises(BadInput, match="a fal model id is 'owner/app"):
        make_backend("fal:flux", BackendSettings())
    with pytest.raises(BadInput, match="no generation backend 'midjourney'; use one of: .*fal"):
        make_backend("midjourney:v7", BackendSettings())


def test_without_a_status_stream_the_backend_polls(fal_server):
    fal_server.add_fault(Fault("stream", "forget", times=-1))
    backend = FalBackend("fal-ai/flux/schnell", FAL_TEST_KEY, BackendSettings(poll_interval_s=0.01), fal_server.url)

    async def go():
        try:
            submission = await backend.submit(request())
            return await backend.wait(submission)
        finally:
            await backend.aclose()

    result = asyncio.run(go())
    assert backend.stream_status is False and result.seed == 5
    assert result.images[0].url.startswith(fal_server.url) and result.images[0].width == 64
    assert len(fal_server.recorded("GET", "status")) >= 2


def test_a_request_the_server_forgot_is_reported_as_unknown(fal_server):
    backend = FalBackend("fal-ai/flux/schnell", FAL_TEST_KEY, BackendSettings(), fal_server.url)
    lost = Submission(
        "no-such-id",
        {
            "status_url": f"{fal_server.url}/fal-ai/flux/requests/no-such-id/status",
            "response_url": f"{fal_server.url}/fal-ai/flux/requests/no-such-id",
            "cancel_url": f"{fal_server.url}/fal-ai/flux/requests/no-such-id/cancel",
        },
    )

    async def go():
        try:
            return await backend.wait(lost)
        finally:
            await backend.aclose()

    with pytest.raises(RequestUnknown):
        asyncio.run(go())


def test_status_urls_on_another_origin_are_not_followed_with_the_key(fal_server):
    port = fal_server.url.rsplit(":", 1)[1]
    backend = FalBackend("fal-ai/flux/schnell", FAL_TEST_KEY, BackendSettings(), f"http://localhost:{port}")

    async def go():
        try:
            submission = await backend.submit(request())
            return submission, await backend.wait(submission)
        finally:
            await backend.aclose()

    submission, result = asyncio.run(go())
    assert (
        submission.urls["status_url"] == f"http://localhost:{port}/fal-ai/flux/requests/{submission.request_id}/status"
    )
    keyed = [r for r in fal_server.recorded() if r.headers.get("Authorization")]
    assert len(keyed) == 3 and {r.headers["Host"] for r in keyed} == {f"localhost:{port}"}
    assert result.seed == 5
