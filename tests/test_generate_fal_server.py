"""The fake fal server speaks what the official fal-client expects (protocols.md §3, method 1)."""

from __future__ import annotations

import json
import subprocess
import sys

import fal_client
import fal_client.client as fal_internals
import httpx
import pytest

from tests.servers.fal_server import FAL_TEST_KEY, FalFakeServer, Fault


@pytest.fixture()
def official_client(fal_server: FalFakeServer, monkeypatch: pytest.MonkeyPatch) -> fal_client.SyncClient:
    monkeypatch.setattr(fal_internals, "QUEUE_URL_FORMAT", f"{fal_server.url}/")
    monkeypatch.setattr(fal_internals, "RUN_URL_FORMAT", f"{fal_server.url}/")
    return fal_client.SyncClient(key=FAL_TEST_KEY)


def test_official_client_subscribe_sees_every_state_and_gets_a_servable_image(fal_server, official_client):
    fal_server.latency_s = 1.0
    seen = []
    result = official_client.subscribe(
        "fal-ai/flux/schnell",
        {"prompt": "a red cube", "seed": 7, "image_size": "square", "output_format": "png"},
        with_logs=True,
        interval=0.05,
        on_queue_update=lambda status: seen.append(type(status).__name__),
    )
    assert seen[0] == "Queued" and "InProgress" in seen and seen[-1] == "Completed"
    assert result["seed"] == 7 and result["has_nsfw_concepts"] == [False]
    image = result["images"][0]
    assert (image["width"], image["height"], image["content_type"]) == (32, 32, "image/png")
    file = httpx.get(image["url"])
    assert file.status_code == 200 and file.headers["content-type"] == "image/png" and file.content[:4] == b"\x89PNG"
    status_paths = [r.path for r in fal_server.recorded("GET", "status")]
    assert status_paths and all(p.startswith("/fal-ai/flux/requests/") for p in status_paths)
    assert "true" in {r.query.get("logs", [""])[0] for r in fal_server.recorded("GET", "status")}
    submit = fal_server.recorded("POST", "submit")[0]
    assert submit.path == "/fal-ai/flux/schnell" and submit.headers["Authorization"] == f"Key {FAL_TEST_KEY}"


def test_official_client_surfaces_validation_and_auth_errors(fal_server, official_client, monkeypatch):
    with pytest.raises(fal_client.client.FalClientHTTPError) as invalid:
        official_client.submit("fal-ai/flux/schnell", {"prompt": "x", "num_inference_steps": 50})
    assert invalid.value.status_code == 422 and "less than or equal to 12" in str(invalid.value)
    with pytest.raises(fal_client.client.FalClientHTTPError) as denied:
        fal_client.SyncClient(key="wrong-key").submit("fal-ai/flux/schnell", {"prompt": "x"})
    assert denied.value.status_code == 401


def test_official_client_cancel_and_status_of_a_queued_request(fal_server, official_client):
    fal_server.latency_s = 30
    handle = official_client.submit("fal-ai/flux/schnell", {"prompt": "slow"})
    assert type(handle.status()).__name__ == "Queued"
    handle.cancel()
    assert fal_server.recorded("PUT", "cancel")
    status_url = f"{fal_server.url}/fal-ai/flux/requests/{handle.request_id}/status"
    assert httpx.get(status_url, headers={"Authorization": f"Key {FAL_TEST_KEY}"}).status_code == 404
    assert httpx.get(status_url).status_code == 401


def test_stream_sends_each_state_then_ends(fal_server):
    fal_server.latency_s = 1.0
    headers = {"Authorization": f"Key {FAL_TEST_KEY}"}
    submitted = httpx.post(f"{fal_server.url}/owner/app/sub/path", json={"prompt": "p"}, headers=headers).json()
    assert submitted["status_url"].endswith(f"/owner/app/requests/{submitted['request_id']}/status")
    with httpx.stream("GET", submitted["status_url"] + "/stream", headers=headers) as response:
        events = [json.loads(line[5:]) for line in response.iter_lines() if line.startswith("data:")]
    assert [e["status"] for e in events] == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]


def test_faults_fire_the_scripted_number_of_times(fal_server):
    fal_server.add_fault(Fault("submit", "http", status=429, headers={"Retry-After": "3"}, times=2))
    headers = {"Authorization": f"Key {FAL_TEST_KEY}"}
    codes = [
        httpx.post(f"{fal_server.url}/fal-ai/flux/schnell", json={"prompt": "p"}, headers=headers) for _ in range(3)
    ]
    assert [c.status_code for c in codes] == [429, 429, 200]
    assert codes[0].headers["retry-after"] == "3"
    assert len(fal_server.submissions("fal-ai/flux/schnell")) == 3


def test_runs_as_a_subprocess_with_a_control_record():
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.servers.fal_server", "--port", "0", "--latency", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.post(f"{url}/fal-ai/flux/schnell", json={"prompt": "hello"}).status_code == 200
        record = httpx.get(f"{url}/_control/requests").json()
        assert [(r["method"], r["path"], r["body"]["prompt"]) for r in record] == [
            ("POST", "/fal-ai/flux/schnell", "hello")
        ]
    finally:
        process.kill()
        process.wait()
