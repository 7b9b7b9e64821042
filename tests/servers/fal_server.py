"""A local server that speaks fal.ai's queue protocol, for tests and benchmarks.

Any ``owner/app[/path]`` endpoint can be submitted to. Each request is IN_QUEUE for the
first half of ``latency_s``, IN_PROGRESS for the second half, then COMPLETED. Results come
from a pluggable function per endpoint; the default is flux-like output whose
``images[].url`` is served by this same server (a deterministic JPEG/PNG from prompt+seed).
Faults are scriptable per route, and every request received is recorded.

In a thread::

    with FalFakeServer(latency_s=0.2) as server:
        os.environ["VIEWFINDER_FAL_URL"] = server.url

As a process (prints its URL on the first line; ``GET /_control/requests`` returns the
record, ``POST /_control/faults`` adds a fault)::

    python -m tests.servers.fal_server --port 0 --latency 0.5
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tests.servers.fake_api import FakeApi, Fault, Query, Reply, Stream, chunk, input_errors, render_image, serve_main

FAL_TEST_KEY = "fal-test-key-7f3a9c"  # the key tests use; it must never show up in run output
# fal's named image sizes, as its API documents them: name, width, height.
SIZES = {
    name: (width, height)
    for name, width, height in (
        ("square_hd", 1024, 1024),
        ("square", 512, 512),
        ("portrait_4_3", 768, 1024),
        ("portrait_16_9", 576, 1024),
        ("landscape_4_3", 1024, 768),
        ("landscape_16_9", 1024, 576),
    )
}
KEEPALIVE = b": keep-alive\n\n"


@dataclass
class Queued:
    request_id: str
    endpoint: str
    app: str  # owner/app: the prefix of the status/result URLs
    input: dict[str, Any]
    submitted_at: float
    error: str | None = None
    result: dict[str, Any] | None = None


class ResultContext:
    """What a result function may use: the server's URL and a place to put files."""

    def __init__(self, server: FalFakeServer, request_id: str) -> None:
        self.server = server
        self.request_id = request_id

    def add_file(self, name: str, data: bytes, content_type: str) -> str:
        """Serve ``data`` at ``/files/<request id>/<name>``; returns its URL."""
        return self.server.add_file(f"{self.request_id}/{name}", data, content_type)


ResultFn = Callable[[dict[str, Any], ResultContext], dict[str, Any]]


def flux_result(scale: int) -> ResultFn:
    """Flux-like output; images are rendered at the requested size divided by ``scale``."""

    def result(arguments: dict[str, Any], ctx: ResultContext) -> dict[str, Any]:
        size = arguments.get("image_size", "landscape_4_3")
        width, height = (size["width"], size["height"]) if isinstance(size, dict) else SIZES[size]
        width, height = max(8, width // scale), max(8, height // scale)
        fmt = arguments.get("output_format", "jpeg")
        seed = arguments.get("seed")
        seed = int(seed) if seed is not None else 42
        images = []
        for index in range(int(arguments.get("num_images", 1))):
            data = render_image(arguments["prompt"], seed + index, (width, height), fmt)
            content_type = f"image/{fmt}"
            url = ctx.add_file(f"{index}.{'png' if fmt == 'png' else 'jpg'}", data, content_type)
            images.append({"url": url, "width": width, "height": height, "content_type": content_type})
        return {
            "images": images,
            "timings": {"inference": 0.01},
            "seed": seed,
            "has_nsfw_concepts": [False] * len(images),
            "prompt": arguments["prompt"],
        }

    return result


class FalFakeServer(FakeApi):
    """The fake fal queue on 127.0.0.1 (port 0 picks a free one)."""

    routes = ("submit", "status", "stream", "result", "cancel")
    truncated_json = b'{"request_id": "trunc'

    def __init__(self, latency_s: float = 0.0, *, keepalive_s: float = 15.0, **kwargs: Any) -> None:
        super().__init__(latency_s, **kwargs)
        self.keepalive_s = keepalive_s
        self.default_result = flux_result(self.image_scale)
        self.results: dict[str, ResultFn] = {}
        self.queue: dict[str, Queued] = self.pending

    # -- scripting and inspection ------------------------------------------------------------
    def set_result(self, endpoint: str, fn: ResultFn) -> None:
        self.results[endpoint] = fn

    def submissions(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """Bodies of every submit received (to check nothing was submitted twice)."""
        return [r.body for r in self.recorded("POST", "submit") if endpoint is None or r.path.strip("/") == endpoint]

    # -- the queue ---------------------------------------------------------------------------
    def status_of(self, item: Queued, now: float | None = None) -> str:
        elapsed = (now or time.monotonic()) - item.submitted_at
        if elapsed >= self.latency_s:
            return "COMPLETED"
        return "IN_QUEUE" if elapsed < self.latency_s / 2 else "IN_PROGRESS"

    def urls(self, item: Queued) -> dict[str, str]:
        base = f"{self.url}/{item.app}/requests/{item.request_id}"
        return {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}

    def status_body(self, item: Queued, logs: bool) -> dict[str, Any]:
        state = self.status_of(item)
        body: dict[str, Any] = {"status": state, "request_id": item.request_id, **self.urls(item)}
        if state == "IN_QUEUE":
            body["queue_position"] = 0
        elif state == "IN_PROGRESS":
            body["logs"] = [_log("generating")] if logs else None
        else:
            body["logs"] = [_log("done")] if logs else None
            body["metrics"] = {"inference_time": self.latency_s}
            if item.error:
                body["error"] = item.error
                body["error_type"] = "model_error"
        return body

    def result_of(self, item: Queued) -> dict[str, Any]:
        with self.lock:
            cached = item.result
        if cached is None:
            fn = self.results.get(item.endpoint, self.default_result)
            cached = fn(item.input, ResultContext(self, item.request_id))
            with self.lock:
                item.result = cached
        return cached

    # -- the API -----------------------------------------------------------------------------
    def route_of(self, method: str, path: str) -> str:
        parts = path.strip("/").split("/")
        if len(parts) >= 4 and parts[2] == "requests":
            if len(parts) == 4:
                return "result"
            if parts[4] == "cancel":
                return "cancel"
            return "stream" if len(parts) > 5 and parts[5] == "stream" else "status"
        return "submit" if method == "POST" else "unknown"

    def authorized(self, headers: Any) -> bool:
        return headers.get("Authorization") == f"Key {self.key}"

    def unauthorized(self) -> Reply:
        return 401, {"detail": "Invalid API key"}, {}

    def request_id_header(self) -> tuple[str, str]:
        return "x-fal-request-id", str(uuid.uuid4())

    def handle(self, route: str, method: str, path: str, query: Query, body, fault: Fault | None, headers) -> Reply:
        if fault is not None and fault.kind == "forget":
            return 404, {"detail": "Request not found"}, {}
        if route == "unknown":
            return 404 if method == "GET" else 405, {"detail": "Not Found"}, {}
        if route == "submit":
            return self._submit(path, body, fault)
        with self.lock:
            item = self.queue.get(path.strip("/").split("/")[3])
        if item is None:
            return 404, {"status": "NOT_FOUND"} if route == "cancel" else {"detail": "Request not found"}, {}
        if route == "cancel":
            return self._cancel(item)
        if route == "result":
            return self._result(item)
        logs = query.get("logs", ["0"])[0] in ("1", "true")
        if route == "stream":
            return 200, Stream(self._events(item, logs)), {"Cache-Control": "no-cache"}
        status = self.status_body(item, logs)
        return 200 if status["status"] == "COMPLETED" else 202, status, {}

    def _submit(self, path: str, body: Any, fault: Fault | None) -> Reply:
        errors = _validate(body)
        if errors:
            return 422, {"detail": errors}, {"X-Fal-Retryable": "false"}
        endpoint = path.strip("/")
        item = Queued(str(uuid.uuid4()), endpoint, "/".join(endpoint.split("/")[:2]), body, time.monotonic())
        if fault is not None and fault.kind == "error":
            item.error = "CUDA out of memory (injected)"
        with self.lock:
            self.queue[item.request_id] = item
        return 200, {"request_id": item.request_id, **self.urls(item), "status": "IN_QUEUE", "queue_position": 0}, {}

    def _events(self, item: Queued, logs: bool) -> Iterator[bytes]:
        """Server-sent status events, one per change of state; the last one ends the body
        (so the connection is reused afterwards). A long wait sends keep-alive comments."""
        last = None
        while True:
            state = self.status_of(item)
            if state != last:
                event = f"data: {json.dumps(self.status_body(item, logs))}\n\n".encode()
                yield chunk(event, last=state == "COMPLETED")
                last = state
            if state == "COMPLETED":
                return
            elapsed = time.monotonic() - item.submitted_at
            target = self.latency_s / 2 if state == "IN_QUEUE" else self.latency_s
            wait = target - elapsed
            if wait > self.keepalive_s:
                time.sleep(self.keepalive_s)
                yield chunk(KEEPALIVE)
            else:
                time.sleep(max(wait, 0.0) + 0.0005)

    def _result(self, item: Queued) -> Reply:
        if self.status_of(item) != "COMPLETED":
            return 400, {"detail": "Request is still in progress"}, {}
        if item.error:
            return 500, {"detail": item.error, "error_type": "model_error"}, {}
        return 200, self.result_of(item), {}

    def _cancel(self, item: Queued) -> Reply:
        if self.status_of(item) == "COMPLETED":
            return 400, {"status": "ALREADY_COMPLETED"}, {}
        with self.lock:
            self.queue.pop(item.request_id, None)
        return 202, {"status": "CANCELLATION_REQUESTED"}, {}


def _log(message: str) -> dict[str, Any]:
    return {
        "message": message,
        "level": "INFO",
        "source": "user",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
    }


def _validate(body: Any) -> list[dict[str, Any]]:
    """fal-style validation errors for a flux input (the checks fal's schema makes)."""
    errors = input_errors(body)
    if not isinstance(body, dict):
        return errors
    steps = body.get("num_inference_steps", 4)
    if not isinstance(steps, int) or not 1 <= steps <= 12:
        errors.append(
            {
                "loc": ["body", "num_inference_steps"],
                "msg": "Input should be less than or equal to 12",
                "type": "less_than_equal",
                "ctx": {"le": 12},
                "input": steps,
            }
        )
    size = body.get("image_size", "landscape_4_3")
    if not (size in SIZES or (isinstance(size, dict) and {"width", "height"} <= set(size))):
        errors.append({"loc": ["body", "image_size"], "msg": "Invalid image size", "type": "value_error"})
    return errors


if __name__ == "__main__":
    serve_main(FalFakeServer, "Fake fal queue server", "seconds from submit to COMPLETED", "Authorization: Key ")
