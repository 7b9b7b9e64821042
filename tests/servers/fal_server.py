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

import argparse
import functools
import hashlib
import io
import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from PIL import Image, ImageDraw

FAL_TEST_KEY = "fal-test-key-7f3a9c"  # the key tests use; it must never show up in run output
ROUTES = ("submit", "status", "stream", "result", "cancel", "file")
SIZES = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}


@dataclass
class Fault:
    """One scripted misbehaviour.

    ``route``: submit, status, stream, result, cancel, file or any. ``kind``:
    ``http`` (answer ``status`` with ``body`` and ``headers``), ``delay`` (wait ``delay_s``
    then answer normally), ``drop`` (close the connection without an answer), ``truncate``
    (valid HTTP, cut-off JSON), ``html`` (an HTML page instead of an image), ``bomb`` (a
    100-megapixel PNG), ``forget`` (the request is unknown: 404), ``error`` (the request
    completes with a model error). ``times``: how many requests it hits (-1: all).
    ``match``: only requests whose path or body contains this text.
    """

    route: str
    kind: str
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    times: int = 1
    match: str | None = None


@dataclass
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    at: float


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

    def __init__(self, server: "FalFakeServer", request_id: str) -> None:
        self.server = server
        self.request_id = request_id

    def add_file(self, name: str, data: bytes, content_type: str) -> str:
        """Serve ``data`` at ``/files/<request id>/<name>``; returns its URL."""
        key = f"{self.request_id}/{name}"
        with self.server.lock:
            self.server.files[key] = (data, content_type)
        return f"{self.server.url}/files/{key}"


ResultFn = Callable[[dict[str, Any], ResultContext], dict[str, Any]]


def render_image(prompt: str, seed: int, size: tuple[int, int], fmt: str) -> bytes:
    """A deterministic picture for (prompt, seed): a colour field with a square in it."""
    digest = hashlib.sha256(f"{prompt}|{seed}".encode()).digest()
    image = Image.new("RGB", size, tuple(digest[:3]))
    w, h = size
    ImageDraw.Draw(image).rectangle(
        [digest[3] % max(1, w // 2), digest[4] % max(1, h // 2), w * 3 // 4, h * 3 // 4], fill=tuple(digest[5:8])
    )
    out = io.BytesIO()
    image.save(out, format="PNG" if fmt == "png" else "JPEG", quality=90)
    return out.getvalue()


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


@functools.lru_cache(maxsize=1)
def bomb_png() -> bytes:
    """A real 10000 x 10000 (100-megapixel) 1-bit PNG; small on the wire, huge when decoded."""
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, format="PNG")
    return out.getvalue()


class FalFakeServer:
    """The fake fal queue on 127.0.0.1 (port 0 picks a free one)."""

    def __init__(
        self,
        latency_s: float = 0.0,
        *,
        port: int = 0,
        image_scale: int = 16,
        key: str | None = None,
        keepalive_s: float = 15.0,
    ) -> None:
        self.latency_s = latency_s
        self.key = key
        self.keepalive_s = keepalive_s
        self.default_result = flux_result(image_scale)
        self.results: dict[str, ResultFn] = {}
        self.faults: list[Fault] = []
        self.requests: list[Recorded] = []
        self.queue: dict[str, Queued] = {}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.lock = threading.Lock()
        self.httpd = _Server(("127.0.0.1", port), _handler(self))
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "FalFakeServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "FalFakeServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting and inspection ------------------------------------------------------------
    def add_fault(self, fault: Fault | None = None, **kwargs: Any) -> Fault:
        fault = fault or Fault(**kwargs)
        if fault.route not in (*ROUTES, "any"):
            raise ValueError(f"unknown route {fault.route!r}")
        with self.lock:
            self.faults.append(fault)
        return fault

    def set_result(self, endpoint: str, fn: ResultFn) -> None:
        self.results[endpoint] = fn

    def forget(self, request_id: str | None = None) -> None:
        """Lose one request (or all), as a server restart would."""
        with self.lock:
            if request_id is None:
                self.queue.clear()
            else:
                self.queue.pop(request_id, None)

    def recorded(self, method: str | None = None, route: str | None = None) -> list[Recorded]:
        with self.lock:
            rows = list(self.requests)
        return [r for r in rows if (method is None or r.method == method) and (route is None or route_of(r.method, r.path) == route)]

    def submissions(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """Bodies of every submit received (to check nothing was submitted twice)."""
        return [r.body for r in self.recorded("POST", "submit") if endpoint is None or r.path.strip("/") == endpoint]

    def _take_fault(self, route: str, text: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times == 0 or fault.route not in (route, "any"):
                    continue
                if fault.match is not None and fault.match not in text:
                    continue
                if fault.times > 0:
                    fault.times -= 1
                return fault
        return None

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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the listen backlog: hundreds of clients connect at once


def route_of(method: str, path: str) -> str:
    parts = path.strip("/").split("/")
    if parts[0] == "files":
        return "file"
    if parts[0] == "_control":
        return "control"
    if len(parts) >= 4 and parts[2] == "requests":
        if len(parts) == 4:
            return "result"
        if parts[4] == "cancel":
            return "cancel"
        return "stream" if len(parts) > 5 and parts[5] == "stream" else "status"
    return "submit" if method == "POST" else "unknown"


def _log(message: str) -> dict[str, Any]:
    return {"message": message, "level": "INFO", "source": "user", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}


def _validate(body: Any) -> list[dict[str, Any]]:
    """fal-style validation errors for a flux input (the checks fal's schema makes)."""
    if not isinstance(body, dict):
        return [{"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}]
    errors = []
    if not isinstance(body.get("prompt"), str):
        errors.append({"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"})
    steps = body.get("num_inference_steps", 4)
    if not isinstance(steps, int) or not 1 <= steps <= 12:
        errors.append(
            {"loc": ["body", "num_inference_steps"], "msg": "Input should be less than or equal to 12",
             "type": "less_than_equal", "ctx": {"le": 12}, "input": steps}
        )
    size = body.get("image_size", "landscape_4_3")
    if not (size in SIZES or (isinstance(size, dict) and {"width", "height"} <= set(size))):
        errors.append({"loc": ["body", "image_size"], "msg": "Invalid image size", "type": "value_error"})
    return errors


def _handler(server: FalFakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

        # -- helpers -------------------------------------------------------------------------
        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-fal-request-id", str(uuid.uuid4()))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _handle(self, method: str) -> None:
            split = urlsplit(self.path)
            path, query = split.path, parse_qs(split.query)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            route = route_of(method, path)
            if route == "control":
                return self._control(method, path, body)
            with server.lock:
                server.requests.append(Recorded(method, path, query, dict(self.headers), body, time.time()))
            if route not in ("file", "unknown") and server.key is not None and self.headers.get("Authorization") != f"Key {server.key}":
                return self._send(401, {"detail": "Invalid API key"})
            fault = server._take_fault(route, path + " " + (raw.decode("utf-8", "replace") if raw else ""))
            if fault is not None:
                if fault.kind == "delay":
                    time.sleep(fault.delay_s)
                elif fault.kind == "drop":
                    self.close_connection = True
                    return
                elif fault.kind == "http":
                    return self._send(fault.status, fault.body if fault.body is not None else {"detail": f"injected {fault.status}"}, fault.headers)
                elif fault.kind == "truncate":
                    return self._send(200, b'{"request_id": "trunc', content_type="application/json")
                elif fault.kind == "html":
                    return self._send(200, b"<html><body>Access denied</body></html>", content_type="text/html; charset=utf-8")
                elif fault.kind == "bomb":
                    return self._send(200, bomb_png(), content_type="image/png")
                elif fault.kind == "forget":
                    return self._send(404, {"detail": "Request not found"})
                elif fault.kind == "error" and route == "submit":
                    pass  # applied below, once the request exists
            getattr(self, f"_{route}")(method, path, query, body, fault)

        # -- routes --------------------------------------------------------------------------
        def _unknown(self, method: str, path: str, query: Any, body: Any, fault: Fault | None) -> None:
            self._send(404 if method == "GET" else 405, {"detail": "Not Found"})

        def _submit(self, method: str, path: str, query: Any, body: Any, fault: Fault | None) -> None:
            errors = _validate(body)
            if errors:
                return self._send(422, {"detail": errors}, {"X-Fal-Retryable": "false"})
            endpoint = path.strip("/")
            item = Queued(str(uuid.uuid4()), endpoint, "/".join(endpoint.split("/")[:2]), body, time.monotonic())
            if fault is not None and fault.kind == "error":
                item.error = "CUDA out of memory (injected)"
            with server.lock:
                server.queue[item.request_id] = item
            self._send(200, {"request_id": item.request_id, **server.urls(item), "status": "IN_QUEUE", "queue_position": 0})

        def _item(self, path: str) -> Queued | None:
            request_id = path.strip("/").split("/")[3]
            with server.lock:
                return server.queue.get(request_id)

        def _status(self, method: str, path: str, query: Any, body: Any, fault: Fault | None) -> None:
            item = self._item(path)
            if item is None:
                return self._send(404, {"detail": "Request not found"})
            logs = query.get("logs", ["0"])[0] in ("1", "true")
            status = server.status_body(item, logs)
            self._send(200 if status["status"] == "COMPLETED" else 202, status)

        def _stream(self, method: str, path: str, query: Any, body: Any, fault: Fault | None) -> None:
            item = self._item(path)
            if item is None:
                return self._send(404, {"detail": "Request not found"})
            logs = query.get("logs", ["0"])[0] in ("1", "true")
            try:  # chunked server-sent events, so the connection is reused afterwards
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                last = None
                while True:
                    state = server.status_of(item)
                    if state != last:
                        event = f"data: {json.dumps(server.status_body(item, logs))}\n\n".encode()
                        end = b"0\r\n\r\n" if state == "COMPLETED" else b""  # the last event ends the stream
                        self.wfile.write(b"%x\r\n%s\r\n%s" % (len(event), event, end))
                        last = state
                    if state == "COMPLETED":
                        return
                    elapsed = time.monotonic() - item.submitted_at
                    target = server.latency_s / 2 if state == "IN_QUEUE" else server.latency_s
                    wait = target - elapsed
                    if wait > server.keepalive_s:
                        time.sleep(server.keepalive_s)
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(b": keep-alive\n\n"), b": keep-alive\n\n"))
                    else:
                        time.sleep(max(wait, 0.0) + 0.0005)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _result(self, method: str, path: str, query: Any, body: Any, fault: Fault | None) -> None:
            item = self._item(path)
            if item is None:
                return self._send(404, {"detail": "Request not found"})
            if server.status_of(item) != "COMPLETED":
                return self._send(400, {"detail": "Request is still in progress"})
            if item.error:
                return self._send(500, {"detail": item.error, "error_type": "model_error"})
            self._send(200, server.result_of(item))

        def _cancel(self, method: str, path: str, query: Any, body: Any, fault: Fault | None) -> None:
            item = self._item(path)
            if item is None:
                return self._send(404, {"status": "NOT_FOUND"})
            if server.status_of(item) == "COMPLETED":
                return self._send(400, {"status": "ALREADY_COMPLETED"})
            with server.lock:
                server.queue.pop(item.request_id, None)
            self._send(202, {"status": "CANCELLATION_REQUESTED"})

        def _file(self, method: str, path: str, query: Any, body: Any, fault: Fault | None) -> None:
            with server.lock:
                entry = server.files.get(path.strip("/").split("/", 1)[1])
            if entry is None:
                return self._send(404, {"detail": "File not found"})
            self._send(200, entry[0], content_type=entry[1])

        def _control(self, method: str, path: str, body: Any) -> None:
            if path == "/_control/requests" and method == "GET":
                return self._send(200, [asdict(r) for r in server.recorded()])
            if path == "/_control/faults" and method == "POST" and isinstance(body, dict):
                server.add_fault(Fault(**body))
                return self._send(200, {"ok": True})
            self._send(404, {"detail": "unknown control path"})

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake fal queue server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds from submit to COMPLETED")
    parser.add_argument("--image-scale", type=int, default=16, help="render images at 1/N of the asked size")
    parser.add_argument("--key", default=None, help="accept only 'Authorization: Key <this>'")
    args = parser.parse_args()
    server = FalFakeServer(args.latency, port=args.port, image_scale=args.image_scale, key=args.key)
    print(server.url, flush=True)
    try:
        server.httpd.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
