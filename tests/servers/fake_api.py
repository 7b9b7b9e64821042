"""What the fake fal, OpenAI Images, Replicate and BFL servers share.

A threaded HTTP server on 127.0.0.1 that records every request, checks the API key,
serves the image files it made, and applies scripted :class:`Fault` s (``http``,
``delay``, ``drop``, ``truncate``, ``html``, ``bomb``; the other kinds are left to each
API's routes). Subclasses name their routes and answer them in :meth:`FakeApi.handle`;
:func:`serve_main` runs one as a process.
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
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image, ImageDraw

Reply = tuple[int, Any, dict[str, str]]  # status, JSON body (or bytes, or a Stream), extra headers
Query = dict[str, list[str]]  # the parsed query string


@dataclass
class Fault:
    """One scripted misbehaviour.

    ``route``: one of the server's routes, ``file`` or ``any``. ``kind``: ``http``
    (answer ``status`` with ``body`` and ``headers``), ``delay`` (wait ``delay_s`` then
    answer normally), ``drop`` (close the connection without an answer), ``truncate``
    (valid HTTP, cut-off JSON), ``html`` (an HTML page instead of an image), ``bomb`` (a
    100-megapixel PNG), or one the API's routes apply (fal: ``forget``, the request is
    unknown; ``error``, it completes with a model error). ``times``: how many requests
    it hits (-1: all). ``match``: only requests whose path or body contains this text.
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
class Stream:
    """A chunked answer written as it is made: ``chunks`` yields wire bytes from :func:`chunk`."""

    chunks: Iterator[bytes]
    content_type: str = "text/event-stream"


def chunk(data: bytes, *, last: bool = False) -> bytes:
    """``data`` as one HTTP chunk; ``last`` adds the end of the body in the same write."""
    return b"%x\r\n%s\r\n%s" % (len(data), data, b"0\r\n\r\n" if last else b"")


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


@functools.lru_cache(maxsize=1)
def bomb_png() -> bytes:
    """A real 10000 x 10000 (100-megapixel) 1-bit PNG; small on the wire, huge when decoded."""
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, format="PNG")
    return out.getvalue()


def input_errors(body: Any) -> list[dict[str, Any]]:
    """The checks every image API's schema makes first: a JSON object with a text prompt."""
    if not isinstance(body, dict):
        return [{"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}]
    if not isinstance(body.get("prompt"), str):
        return [{"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}]
    return []


class ServedOnThread:
    """Serves ``self.httpd`` on a daemon thread for the life of a ``with`` block."""

    httpd: ThreadingHTTPServer

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeApi:
    """Base fake provider; ``latency_s`` is how long a request takes to finish."""

    routes: tuple[str, ...] = ()
    truncated_json = b'{"id": "trunc'  # what a ``truncate`` fault answers

    def __init__(self, latency_s: float = 0.0, *, port: int = 0, key: str | None = None, image_scale: int = 16) -> None:
        self.latency_s = latency_s
        self.key = key
        self.image_scale = image_scale
        self.faults: list[Fault] = []
        self.requests: list[Recorded] = []
        self.files: dict[str, tuple[bytes, str]] = {}
        self.pending: dict[str, Any] = {}  # the provider's own requests by id (a subclass names its view)
        self.lock = threading.Lock()
        self.httpd = _Server(("127.0.0.1", port), _handler(self))
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeApi:
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting and inspection ------------------------------------------------------------
    def submissions(self) -> list[dict[str, Any]]:
        """The bodies of the requests that asked for an image."""
        return [r.body for r in self.recorded("POST", self.routes[0])]

    def forget(self, request_id: str | None = None) -> None:
        """Lose one request (or all), as a server restart would."""
        with self.lock:
            if request_id is None:
                self.pending.clear()
            else:
                self.pending.pop(request_id, None)

    def add_fault(self, fault: Fault | None = None, **kwargs: Any) -> Fault:
        fault = fault or Fault(**kwargs)
        if fault.route not in (*self.routes, "file", "any"):
            raise ValueError(f"unknown route {fault.route!r}; use one of {self.routes}")
        with self.lock:
            self.faults.append(fault)
        return fault

    def recorded(self, method: str | None = None, route: str | None = None) -> list[Recorded]:
        with self.lock:
            rows = list(self.requests)
        return [
            r
            for r in rows
            if (method is None or r.method == method) and (route is None or self.route(r.method, r.path) == route)
        ]

    def route(self, method: str, path: str) -> str:
        """The route of a request: ``file`` for the served images, else the API's own."""
        return "file" if path.startswith("/files/") else self.route_of(method, path)

    def take_fault(self, route: str, text: str) -> Fault | None:
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

    def add_file(self, name: str, data: bytes, content_type: str) -> str:
        """Serve ``data`` at ``/files/<name>``; returns its URL."""
        with self.lock:
            self.files[name] = (data, content_type)
        return f"{self.url}/files/{name}"

    def image(self, prompt: str, seed: int, size: tuple[int, int], fmt: str) -> bytes:
        """A deterministic picture at ``size`` divided by ``image_scale``."""
        width, height = (max(8, side // self.image_scale) for side in size)
        return render_image(prompt, seed, (width, height), fmt)

    def elapsed_share(self, submitted_at: float) -> float:
        """How far a request is through ``latency_s`` (1.0 and above: done)."""
        return 1.0 if self.latency_s <= 0 else (time.monotonic() - submitted_at) / self.latency_s

    # -- what each API defines ---------------------------------------------------------------
    def request_id_header(self) -> tuple[str, str]:
        """The header naming each answer, as the API sends it."""
        return "x-request-id", f"req_{uuid.uuid4().hex}"

    def route_of(self, method: str, path: str) -> str:
        raise NotImplementedError

    def authorized(self, headers: Any) -> bool:
        """Bearer-token auth (OpenAI, Replicate); providers with another scheme override it."""
        return headers.get("Authorization") == f"Bearer {self.key}"

    def unauthorized(self) -> Reply:
        raise NotImplementedError

    def handle(self, route: str, method: str, path: str, query: Query, body, fault: Fault | None, headers) -> Reply:
        raise NotImplementedError


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the listen backlog (set before listen()): many clients connect at once


def _handler(server: FakeApi) -> type[BaseHTTPRequestHandler]:
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

        def _send(
            self, status: int, body: Any, headers: dict[str, str] | None = None, content_type: str = "application/json"
        ) -> None:
            if isinstance(body, Stream):
                return self._send_stream(status, body, headers or {})
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header(*server.request_id_header())
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _send_stream(self, status: int, stream: Stream, headers: dict[str, str]) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", stream.content_type)
                self.send_header("Transfer-Encoding", "chunked")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                for data in stream.chunks:
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
            if path.startswith("/_control/"):
                return self._control(method, path, body)
            route = server.route(method, path)
            with server.lock:
                server.requests.append(Recorded(method, path, query, dict(self.headers), body, time.time()))
            if route not in ("file", "unknown") and server.key is not None and not server.authorized(self.headers):
                return self._send(*server.unauthorized())
            fault = server.take_fault(route, self.path + " " + (raw.decode("utf-8", "replace") if raw else ""))
            if fault is not None:
                if fault.kind == "delay":
                    time.sleep(fault.delay_s)
                elif fault.kind == "drop":
                    self.close_connection = True
                    return
                elif fault.kind == "http":
                    return self._send(
                        fault.status,
                        fault.body if fault.body is not None else {"detail": f"injected {fault.status}"},
                        fault.headers,
                    )
                elif fault.kind == "truncate":
                    return self._send(200, server.truncated_json)
                elif fault.kind == "html":
                    return self._send(
                        200, b"<html><body>Access denied</body></html>", content_type="text/html; charset=utf-8"
                    )
                elif fault.kind == "bomb":
                    return self._send(200, bomb_png(), content_type="image/png")
            if route == "file":
                with server.lock:
                    entry = server.files.get(path[len("/files/") :])
                if entry is None:
                    return self._send(404, {"detail": "File not found"})
                return self._send(200, entry[0], content_type=entry[1])
            status, reply, headers = server.handle(route, method, path, query, body, fault, self.headers)
            self._send(status, reply, headers)

        def _control(self, method: str, path: str, body: Any) -> None:
            if path == "/_control/requests" and method == "GET":
                return self._send(200, [asdict(r) for r in server.recorded()])
            if path == "/_control/faults" and method == "POST" and isinstance(body, dict):
                server.add_fault(Fault(**body))
                return self._send(200, {"ok": True})
            self._send(404, {"detail": "unknown control path"})

    return Handler


def serve_main(
    server_class: type[FakeApi], description: str, latency_help: str, key_header: str, url_suffix: str = ""
) -> None:
    """Run a ``server_class`` server as a process; its URL (plus ``url_suffix``) is the first line of output."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help=latency_help)
    parser.add_argument("--image-scale", type=int, default=16, help="render images at 1/N of the asked size")
    parser.add_argument("--key", default=None, help=f"accept only '{key_header}<this>'")
    args = parser.parse_args()
    server = server_class(args.latency, port=args.port, key=args.key, image_scale=args.image_scale)
    print(server.url + url_suffix, flush=True)
    try:
        server.httpd.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
