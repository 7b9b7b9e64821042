"""Black Forest Labs API backend (``bfl:flux-2-pro``, ``bfl:flux-pro-1.1``, ...).

Protocol: ``POST {BFL_BASE_URL or https://api.bfl.ai}/v1/{model}`` with header
``x-key: $BFL_API_KEY`` answers ``{"id", "polling_url"}`` (newer answers add ``cost`` in
credits and megapixels). ``GET polling_url`` until ``status`` is ``Ready``
(``result.sample``: a signed URL that expires in ten minutes, so it is downloaded at
once), ``Error``, ``Request Moderated`` or ``Content Moderated``; ``Pending`` means wait
and ``Task not found`` means the request is gone. The key is only sent to the API's own
hosts: a polling URL on another host is replaced by ``{base}/v1/get_result?id=``.
There is no cancel endpoint.
"""

from __future__ import annotations

import re
from math import gcd
from typing import Any
from urllib.parse import quote

from viewfinder.errors import ItemFailed, RequestUnknown, RetryableError
from viewfinder.providers.api import ApiBackend, on_api_host
from viewfinder.providers.keys import Provider
from viewfinder.providers.pricing import Prices, requested_size
from viewfinder.providers.types import (
    BackendSettings,
    GenerationRequest,
    GenerationResult,
    ImageRef,
    Submission,
)

DEFAULT_BASE_URL = "https://api.bfl.ai"
MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
ASPECT_RATIO_MODELS = {"flux-pro-1.1-ultra"}  # these take aspect_ratio instead of width/height
MODERATED = {"Request Moderated": "the prompt", "Content Moderated": "the image"}
SUBMIT_FIELDS = ("cost", "input_mp", "output_mp")
PROVIDER = Provider(
    "BFL",
    "BFL_API_KEY",
    "your BFL API key",
    "BFL_BASE_URL",
    DEFAULT_BASE_URL,
    "https://dashboard.bfl.ai/get-started",
    "https://dashboard.bfl.ai/credits",
)


PRICES = Prices(
    per_image={
        "bfl:flux-pro-1.1": 0.04,
        "bfl:flux-pro-1.1-ultra": 0.06,
        "bfl:flux-kontext-pro": 0.04,
        "bfl:flux-kontext-max": 0.08,
    },
    # FLUX.2: USD for the first megapixel and for each further megapixel of output.
    first_megapixel={
        "bfl:flux-2-klein-4b": (0.014, 0.001),
        "bfl:flux-2-klein-9b": (0.015, 0.002),
        "bfl:flux-2-pro": (0.03, 0.015),
        "bfl:flux-2-max": (0.07, 0.03),
        "bfl:flux-2-flex": (0.05, 0.05),
    },
)


def multiple_of_16(pixels: int) -> int:
    """The nearest multiple of 16 (halves round up), as BFL requires for width and height."""
    return max(64, (pixels + 8) // 16 * 16)


class BflBackend(ApiBackend):
    """One BFL model endpoint; one per run and model."""

    name = "bfl"
    provider = PROVIDER

    model_id = MODEL_ID
    model_id_help = "a BFL model id is the endpoint name, e.g. bfl:flux-2-pro or bfl:flux-pro-1.1"

    def __init__(self, model: str, key: str, settings: BackendSettings, base_url: str | None = None) -> None:
        super().__init__(model, key, settings, base_url)
        self._accepted: dict[str, dict[str, Any]] = {}  # what submit said (cost), by request id

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-key": key}

    # -- the protocol -----------------------------------------------------------------------
    def payload(self, request: GenerationRequest) -> dict[str, Any]:
        width, height = requested_size(request.params)
        body: dict[str, Any] = {"prompt": request.prompt, "seed": request.seed}
        if self.model in ASPECT_RATIO_MODELS:
            body["aspect_ratio"] = _ratio(width, height)
        else:
            body["width"], body["height"] = multiple_of_16(width), multiple_of_16(height)
        body["output_format"] = request.params.get("output_format", "jpeg")
        return body

    async def submit(self, request: GenerationRequest) -> Submission:
        data = await self.api.request_json(
            "POST", f"{self.base_url}/v1/{self.model}", "submit", json=self.payload(request)
        )
        request_id = data.get("id")
        if not isinstance(request_id, str) or not request_id:
            raise RetryableError("BFL submit answer has no id")
        self._accepted[request_id] = {k: data[k] for k in SUBMIT_FIELDS if k in data}
        polling_url = data.get("polling_url")
        if not isinstance(polling_url, str) or not self._is_api_host(polling_url):
            polling_url = f"{self.base_url}/v1/get_result?id={quote(request_id)}"
        return Submission(request_id=request_id, urls={"polling_url": polling_url})

    async def wait(self, submission: Submission) -> GenerationResult:
        async for answer in self.poll(submission.urls["polling_url"], "get_result"):
            status = answer.get("status")
            if status == "Ready":
                return self._result(submission, answer)
            if status == "Task not found":
                raise RequestUnknown("BFL no longer knows this request (Task not found)")
            if status in MODERATED:
                raise ItemFailed(f"BFL moderation blocked {MODERATED[status]} ({status}){_details(answer)}")
            if status == "Error":
                raise ItemFailed(self.redact(f"BFL reported an error{_details(answer)}"))
            if status != "Pending":
                raise ItemFailed(f"BFL answered an unknown status {str(status)[:40]!r}")
        raise AssertionError("unreachable: poll() never ends")

    async def cancel(self, submission: Submission) -> bool:
        return False  # the API has no way to cancel a request

    # -- helpers ----------------------------------------------------------------------------
    def _is_api_host(self, url: str) -> bool:
        """Whether ``url`` is on the configured base host or on bfl.ai (regional hosts)."""
        return on_api_host(url, self.base_url, "bfl.ai")

    def _result(self, submission: Submission, answer: dict[str, Any]) -> GenerationResult:
        raw = answer.get("result")
        result: dict[str, Any] = raw if isinstance(raw, dict) else {}
        sample = result.get("sample")
        if not isinstance(sample, str) or not sample:
            raise ItemFailed(f"BFL said Ready without an image URL: {str(answer)[:200]}")
        seed = result.get("seed")
        response = {**answer, **self._accepted.pop(submission.request_id, {})}
        return GenerationResult(
            images=[ImageRef(url=sample)],
            response=response,
            seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        )


def _details(answer: dict[str, Any]) -> str:
    """BFL's explanation of a failure, from ``details`` or ``error``, if it gave one."""
    detail = answer.get("details") or answer.get("error")
    return f": {str(detail)[:300]}" if detail else ""


def _ratio(width: int, height: int) -> str:
    divisor = gcd(width, height)
    return f"{width // divisor}:{height // divisor}"
