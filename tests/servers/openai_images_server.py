"""A local server that speaks OpenAI's Images API (``POST /v1/images/generations``).

It checks ``Authorization: Bearer <key>`` and the request fields as the API does (sizes,
qualities and formats of the GPT image models), holds each request ``latency_s`` seconds,
then answers at once with the image as ``b64_json`` and a ``usage`` block of tokens.
Errors use OpenAI's ``{"error": {"message", "type", "param", "code"}}`` shape; fault kind
``moderate`` answers the safety system's 400 ``moderation_blocked``.

    with OpenAIImagesFakeServer(key="sk-test") as server:
        os.environ["OPENAI_BASE_URL"] = server.url + "/v1"
"""

from __future__ import annotations

import base64
import itertools
import time
from typing import Any

from tests.servers.fake_api import FakeApi, Fault, Query, Reply, serve_main

OPENAI_TEST_KEY = "sk-test-openai-4c1d9e"
SIZES = {"auto": (1024, 1024), "1024x1024": (1024, 1024), "1536x1024": (1536, 1024), "1024x1536": (1024, 1536)}
QUALITIES = ("low", "medium", "high", "auto")
FORMATS = ("png", "jpeg", "webp")
# Output image tokens of gpt-image-1 per quality for a square and for a 3:2 image.
OUTPUT_TOKENS = {"low": (272, 408), "medium": (1056, 1584), "high": (4160, 6240), "auto": (1056, 1584)}


def _error(
    status: int, message: str, code: str | None, param: str | None = None, kind: str = "invalid_request_error"
) -> Reply:
    return status, {"error": {"message": message, "type": kind, "param": param, "code": code}}, {}


class OpenAIImagesFakeServer(FakeApi):
    routes = ("generate",)

    def __init__(self, latency_s: float = 0.0, **kwargs: Any) -> None:
        super().__init__(latency_s, **kwargs)
        self._counter = itertools.count()

    def route_of(self, method: str, path: str) -> str:
        return "generate" if (method, path) == ("POST", "/v1/images/generations") else "unknown"

    def unauthorized(self) -> Reply:
        return _error(
            401,
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            "invalid_api_key",
        )

    def handle(self, route: str, method: str, path: str, query: Query, body, fault: Fault | None, headers) -> Reply:
        if route != "generate":
            return _error(404, f"Invalid URL ({method} {path})", None)
        invalid = _validate(body)
        if invalid is not None:
            return invalid
        if fault is not None and fault.kind == "moderate":
            return _error(
                400,
                "Your request was rejected as a result of our safety system. Your request may contain content "
                "that is not allowed by our safety system.",
                "moderation_blocked",
                kind="image_generation_user_error",
            )
        time.sleep(self.latency_s)
        size = body.get("size", "auto")
        quality = body.get("quality", "auto")
        fmt = body.get("output_format", "png")
        images = []
        for _ in range(int(body.get("n", 1))):  # no seed in this API: every image is a new sample
            data = self.image(body["prompt"], next(self._counter), SIZES[size], fmt)
            images.append({"b64_json": base64.b64encode(data).decode(), "revised_prompt": None})
        text_tokens = len(body["prompt"].split()) + 4
        output_tokens = OUTPUT_TOKENS[quality][0 if SIZES[size][0] == SIZES[size][1] else 1] * len(images)
        return (
            200,
            {
                "created": int(time.time()),
                "data": images,
                "background": "opaque",
                "output_format": fmt,
                "quality": "medium" if quality == "auto" else quality,
                "size": "1024x1024" if size == "auto" else size,
                "usage": {
                    "input_tokens": text_tokens,
                    "input_tokens_details": {"image_tokens": 0, "text_tokens": text_tokens},
                    "output_tokens": output_tokens,
                    "total_tokens": text_tokens + output_tokens,
                },
            },
            {},
        )


def _validate(body: Any) -> Reply | None:
    if not isinstance(body, dict):
        return _error(400, "We could not parse the JSON body of your request.", None)
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        return _error(400, "Missing required parameter: 'prompt'.", "missing_required_parameter", "prompt")
    model = body.get("model", "gpt-image-1")
    if not isinstance(model, str) or not model.startswith(("gpt-image-", "chatgpt-image-")):
        return _error(400, f"Invalid value: '{model}'. Value must be a GPT image model.", "invalid_value", "model")
    checks = (("size", SIZES), ("quality", QUALITIES), ("output_format", FORMATS))
    for field, allowed in checks:
        if field in body and body[field] not in allowed:
            return _error(
                400,
                f"Invalid value: '{body[field]}'. Supported values are: {', '.join(repr(a) for a in allowed)}.",
                "invalid_value",
                field,
            )
    n = body.get("n", 1)
    if not isinstance(n, int) or not 1 <= n <= 10:
        return _error(400, f"Invalid 'n': integer must be between 1 and 10, got {n!r}.", "integer_out_of_range", "n")
    return None


if __name__ == "__main__":
    serve_main(
        OpenAIImagesFakeServer,
        "Fake OpenAI Images server",
        "seconds each request takes",
        "Authorization: Bearer ",
        url_suffix="/v1",
    )
