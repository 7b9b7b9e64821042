"""A local server speaking the OpenAI chat completions protocol, for judge tests.

``POST /v1/chat/completions`` with ``Authorization: Bearer <key>``; it checks the request
shape (messages with an image part, ``response_format``), answers with a chat completion
(``choices[0].message.content``/``refusal``, ``finish_reason``, ``usage`` and, when asked
for, ``logprobs``), and plays scripted faults first: malformed JSON, refusals, ``length``
cut-offs, 429 with ``Retry-After``, 500. Every request body is kept in ``requests``.

As a process (prints its base URL on the first line)::

    python tests/servers/openai_server.py --port 0 --latency 0.5 --key sk-bench
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], "dict[str, Any] | str"]


def good_answer(**overrides: Any) -> dict[str, Any]:
    """A valid judge answer; ``overrides`` change fields."""
    answer: dict[str, Any] = {
        "title": "A Look That Speaks Volumes",
        "description": "A woman in a dim bar looks at the camera. People dance behind her.",
        "shot": "A woman with long brown hair, medium close-up, bar in the background.",
        "aesthetic": 0.8,
        "moods": ["Mysterious", "alluring", "intimate"],
        "image_errors": "Some noise in the shadows.",
        "ai_likelihood": 0.1,
        "people": 3,
        "face_visible": True,
        "camera_angle": "eye-level",
        "shot_size": "close-up",
        "scene_match": "yes",
        "style_match": "no",
        "expression": "contempt",
    }
    answer.update(overrides)
    return answer


@dataclass
class Fault:
    """One scripted reply: an HTTP status with a body, or a chat completion with odd content."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content: str | None = None
    refusal: str | None = None
    finish_reason: str = "stop"


def malformed(text: str = '{"title": "cut off", "aesthetic": 0.') -> Fault:
    return Fault(content=text)


def refusal(text: str = "I'm sorry, I can't help with that.") -> Fault:
    return Fault(refusal=text)


def cut_off() -> Fault:
    return Fault(content='{"title": "A long', finish_reason="length")


def rate_limited(retry_after: float = 0) -> Fault:
    return Fault(
        status=429,
        headers={"Retry-After": f"{retry_after:g}"},
        body={
            "error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}
        },
    )


def server_error() -> Fault:
    return Fault(status=500, body={"error": {"message": "The server had an error", "type": "server_error"}})


def data_block(request: dict[str, Any]) -> dict[str, Any]:
    """The prompt fields the judge sent inside ``<prompt_data>`` (for echoing responders)."""
    text = request["messages"][1]["content"][0]["text"]
    match = re.search(r"<prompt_data>\n(.*)\n</prompt_data>", text, re.DOTALL)
    if match is None:
        raise ValueError("no data block in the user message")
    return json.loads(match.group(1))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # listen() backlog: many clients connect at once


class FakeOpenAI:
    """The server; use as a context manager. ``url`` is the base for ``OPENAI_BASE_URL``."""

    def __init__(
        self,
        *,
        key: str = "sk-test-0123456789",
        responder: Responder | None = None,
        json_schema: bool = True,
        logprobs: bool = True,
        confidence: float = 0.9,
        prompt_tokens: int = 1000,
        latency_s: float = 0.0,
        port: int = 0,
        reasoning: bool = False,
    ) -> None:
        self.key = key
        self.responder: Responder = responder or (lambda request: good_answer())
        self.json_schema = json_schema
        self.logprobs = logprobs
        self.confidence = confidence
        self.prompt_tokens = prompt_tokens
        self.latency_s = latency_s
        self.reasoning = reasoning  # rejects max_tokens, temperature other than 1 and logprobs
        self.script: deque[Fault] = deque()
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: list[str | None] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def push(self, *faults: Fault) -> None:
        self.script.extend(faults)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- protocol ---------------------------------------------------------------------------
    def handle(self, auth: str | None, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self.requests.append(body)
            self.auth_headers.append(auth)
            fault = self.script.popleft() if self.script else None
        if self.latency_s:
            time.sleep(self.latency_s)
        if auth != f"Bearer {self.key}":
            return (
                401,
                {},
                {
                    "error": {
                        "message": "Incorrect API key provided.",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
            )
        problem, param = self._check(body)
        if problem:
            return 400, {}, {"error": {"message": problem, "type": "invalid_request_error", "param": param}}
        if fault is not None and fault.status != 200:
            return fault.status, fault.headers, fault.body
        if fault is not None:
            return 200, {}, self._completion(body, fault.content, fault.refusal, fault.finish_reason)
        answer = self.responder(body)
        content = answer if isinstance(answer, str) else json.dumps(answer)
        return 200, {}, self._completion(body, content, None, "stop")

    def _check(self, body: dict[str, Any]) -> tuple[str | None, str | None]:
        """(error message, param) for a request the API would reject; (None, None) if fine."""
        messages = body.get("messages")
        if not body.get("model") or not isinstance(messages, list) or not messages:
            return "model and messages are required", "messages"
        parts = messages[1].get("content") if len(messages) > 1 else None
        if not isinstance(parts, list) or not any(
            part.get("type") == "image_url" and part["image_url"]["url"].startswith("data:image/") for part in parts
        ):
            return "the first user message must carry an image_url part", "messages"
        if self.reasoning:
            if "max_tokens" in body:
                return (
                    "Unsupported parameter: 'max_tokens' is not supported with this model. "
                    "Use 'max_completion_tokens' instead."
                ), "max_tokens"
            if body.get("temperature", 1) != 1:
                return (
                    f"Unsupported value: 'temperature' does not support {body['temperature']} with this model. "
                    "Only the default (1) value is supported."
                ), "temperature"
            if body.get("logprobs"):
                return "This model does not support logprobs.", "logprobs"
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            if not self.json_schema:
                return (
                    "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
                    "response_format",
                )
            schema = response_format["json_schema"]["schema"]
            if set(schema["required"]) != set(schema["properties"]) or schema.get("additionalProperties") is not False:
                return "strict schemas need every property required and additionalProperties false", "response_format"
        return None, None

    def _completion(
        self, body: dict[str, Any], content: str | None, refused: str | None, finish: str
    ) -> dict[str, Any]:
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": refused},
            "finish_reason": finish,
            "logprobs": None,
        }
        if self.logprobs and body.get("logprobs") and content is not None:
            choice["logprobs"] = {"content": self._token_logprobs(content, int(body.get("top_logprobs") or 0))}
        completion_tokens = len(content or refused or "") // 4 + 1
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": body["model"],
            "choices": [choice],
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": self.prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_fake",
        }

    def _token_logprobs(self, content: str, top: int) -> list[dict[str, Any]]:
        """Tokens that join back to ``content``; "yes"/"no" carry ``confidence`` for themselves."""
        entries = []
        for token in re.findall(r"\w+|\s+|[^\w\s]", content):
            if token in ("yes", "no") and top:
                other = "no" if token == "yes" else "yes"
                alternatives = [(token, math.log(self.confidence)), (other, math.log(1 - self.confidence))]
            else:
                alternatives = [(token, 0.0)]
            entries.append(
                {
                    "token": token,
                    "logprob": alternatives[0][1],
                    "bytes": list(token.encode()),
                    "top_logprobs": [
                        {"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in alternatives[:top]
                    ],
                }
            )
        return entries

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                if self.path != "/v1/chat/completions":
                    self._send(404, {}, {"error": {"message": f"no route {self.path}"}})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length))
                except ValueError:
                    self._send(400, {}, {"error": {"message": "body is not JSON"}})
                    return
                self._send(*fake.handle(self.headers.get("Authorization"), body))

            def _send(self, status: int, headers: dict[str, str], payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Fake OpenAI chat completions server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--key", default="sk-test-0123456789")
    args = parser.parse_args()
    server = FakeOpenAI(key=args.key, latency_s=args.latency, port=args.port)
    print(server.url, flush=True)
    try:
        server._server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
