"""OpenAI Images backend (``openai:gpt-image-1.5`` and the other GPT image models).

Protocol: ``POST {OPENAI_BASE_URL or https://api.openai.com/v1}/images/generations`` with
``Authorization: Bearer $OPENAI_API_KEY`` answers synchronously with the image as base64
(``data[].b64_json``) and a ``usage`` block of tokens. So :meth:`submit` makes the call
and keeps the result, and :meth:`wait` hands it over; a result lost with an interrupted
run is a request unknown to us, which the runner submits again. The API takes no seed:
each seed of a study is one more sample, not a reproducible image.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from typing import Any

from viewfinder.errors import ItemFailed, RequestUnknown
from viewfinder.providers.api import ApiBackend
from viewfinder.providers.keys import Provider
from viewfinder.providers.pricing import Prices, nearest_aspect, requested_size
from viewfinder.providers.types import (
    BackendSettings,
    GenerationRequest,
    GenerationResult,
    ImageRef,
    Submission,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
SIZES = ("1024x1024", "1536x1024", "1024x1536")  # what GPT image models accept
DEFAULT_QUALITY = "medium"  # the quality the price table assumes
GENERATION_TIMEOUT_S = 300.0  # a high-quality image can take minutes to come back
MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
PROVIDER = Provider(
    "OpenAI",
    "OPENAI_API_KEY",
    "your OpenAI API key",
    "OPENAI_BASE_URL",
    DEFAULT_BASE_URL,
    "https://platform.openai.com/api-keys",
    "https://platform.openai.com/settings/organization/billing",
)


# For quality "medium", the quality viewfinder asks for by default.
PRICES = Prices(
    per_image={
        "openai:gpt-image-1.5": {"1024x1024": 0.034, "1536x1024": 0.05, "1024x1536": 0.05},
        "openai:chatgpt-image-latest": {"1024x1024": 0.034, "1536x1024": 0.05, "1024x1536": 0.05},
        "openai:gpt-image-1": {"1024x1024": 0.042, "1536x1024": 0.063, "1024x1536": 0.063},
        "openai:gpt-image-1-mini": {"1024x1024": 0.011, "1536x1024": 0.015, "1024x1536": 0.015},
    }
)


class OpenAIImagesBackend(ApiBackend):
    """One OpenAI image model; one per run and model."""

    name = "openai"
    provider = PROVIDER

    model_id = MODEL_ID
    model_id_help = "an OpenAI model id is a single name, e.g. openai:gpt-image-1.5"

    def __init__(self, model: str, key: str, settings: BackendSettings, base_url: str | None = None) -> None:
        super().__init__(model, key, settings, base_url)
        self.generation_timeout_s = max(settings.timeout_s, GENERATION_TIMEOUT_S)
        self._results: dict[str, GenerationResult] = {}

    # -- the protocol -----------------------------------------------------------------------
    def payload(self, request: GenerationRequest) -> dict[str, Any]:
        params = request.params
        return {
            "model": self.model,
            "prompt": request.prompt,
            "n": 1,
            "size": nearest_aspect(*requested_size(params), SIZES),
            "quality": params.get("quality", DEFAULT_QUALITY),
            "output_format": params.get("output_format", "png"),
        }

    async def submit(self, request: GenerationRequest) -> Submission:
        reply = await self.api.request(
            "POST",
            f"{self.base_url}/images/generations",
            "generation",
            json=self.payload(request),
            timeout_s=self.generation_timeout_s,
        )
        data = self.api.json_object(reply, "generation")
        request_id = reply.headers.get("x-request-id") or f"local-{uuid.uuid4()}"
        self._results[request_id] = self._result(data)
        return Submission(request_id=request_id)

    async def wait(self, submission: Submission) -> GenerationResult:
        result = self._results.pop(submission.request_id, None)
        if result is None:
            raise RequestUnknown("OpenAI answers at once and this answer was not kept (the run was interrupted)")
        return result

    async def cancel(self, submission: Submission) -> bool:
        return self._results.pop(submission.request_id, None) is not None

    # -- the answer -------------------------------------------------------------------------
    def _result(self, data: dict[str, Any]) -> GenerationResult:
        """Images from ``data[]``; the stored answer keeps everything but the base64 itself."""
        fmt = data.get("output_format") or "png"
        width, height = _size(data.get("size"))
        images, kept = [], []
        for item in data.get("data") or []:
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("b64_json"), str):
                try:
                    raw = base64.b64decode(item["b64_json"], validate=True)
                except (binascii.Error, ValueError):
                    raise ItemFailed("OpenAI returned an image that is not valid base64") from None
                images.append(ImageRef(url=None, content_type=f"image/{fmt}", width=width, height=height, data=raw))
                kept.append({**{k: v for k, v in item.items() if k != "b64_json"}, "image_bytes": len(raw)})
            elif isinstance(item.get("url"), str):
                images.append(ImageRef(url=item["url"], content_type=f"image/{fmt}", width=width, height=height))
                kept.append(item)
        if not images:
            raise ItemFailed(
                self.redact(f"OpenAI returned no images: {str({k: v for k, v in data.items() if k != 'data'})[:300]}")
            )
        return GenerationResult(images=images, response={**data, "data": kept})


def _size(size: Any) -> tuple[int | None, int | None]:
    if isinstance(size, str) and re.fullmatch(r"\d+x\d+", size):
        width, height = size.split("x")
        return int(width), int(height)
    return None, None
