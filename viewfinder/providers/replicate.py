"""Replicate predictions backend (``replicate:owner/name`` or ``replicate:owner/name:version``).

Protocol: ``POST {REPLICATE_BASE_URL or https://api.replicate.com}/v1/models/{owner}/{name}/predictions``
(official models) or ``POST /v1/predictions`` with ``version`` (a pinned version, the
reproducible choice) and ``Authorization: Bearer $REPLICATE_API_TOKEN`` answers 201 with a
prediction: ``id``, ``status`` and ``urls.get`` / ``urls.cancel``, which we follow when
they are on the API's host (the token goes nowhere else). ``GET urls.get`` until
``status`` is ``succeeded`` (``output``: a list of URLs), ``failed`` (``error``) or
``canceled``; ``starting`` and ``processing`` mean wait. ``POST urls.cancel`` cancels.
The inputs are those of Replicate's FLUX models (aspect ratio, not pixels).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from viewfinder.errors import (
    FatalRunError,
    ItemFailed,
    RequestUnknown,
    RetryableError,
)
from viewfinder.providers.api import ApiBackend, on_api_host
from viewfinder.providers.keys import Provider
from viewfinder.providers.pricing import Prices, nearest_aspect, requested_size
from viewfinder.providers.types import (
    BackendSettings,
    GenerationRequest,
    GenerationResult,
    ImageRef,
    Submission,
)

DEFAULT_BASE_URL = "https://api.replicate.com"
MODEL_ID = re.compile(r"^(?P<model>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)(:(?P<version>[0-9a-f]{8,64}))?$")
ASPECT_RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")
RUNNING = {"starting", "processing"}
FORMATS = {"jpeg": "jpg", "png": "png"}
MAX_LOGS = 2000
PROVIDER = Provider(
    "Replicate",
    "REPLICATE_API_TOKEN",
    "your token",
    "REPLICATE_BASE_URL",
    DEFAULT_BASE_URL,
    "https://replicate.com/account/api-tokens",
    "https://replicate.com/account/billing",
)


PRICES = Prices(
    per_image={
        "replicate:black-forest-labs/flux-schnell": 0.003,
        "replicate:black-forest-labs/flux-dev": 0.025,
        "replicate:black-forest-labs/flux-1.1-pro": 0.04,
    }
)


class ReplicateBackend(ApiBackend):
    """One Replicate model (or pinned version); one per run and model."""

    name = "replicate"
    provider = PROVIDER

    model_id = MODEL_ID
    model_id_help = (
        "a Replicate model id is 'owner/name' or 'owner/name:version', e.g. replicate:black-forest-labs/flux-schnell"
    )

    def __init__(self, model: str, token: str, settings: BackendSettings, base_url: str | None = None) -> None:
        super().__init__(model, token, settings, base_url)
        assert self.match is not None  # ApiBackend checked it
        self.model, self.version = self.match["model"], self.match["version"]

    # -- the protocol -----------------------------------------------------------------------
    def payload(self, request: GenerationRequest) -> dict[str, Any]:
        params = request.params
        fmt = params.get("output_format", "jpeg")
        inputs: dict[str, Any] = {
            "prompt": request.prompt,
            "seed": request.seed,
            "aspect_ratio": nearest_aspect(*requested_size(params), ASPECT_RATIOS),
            "num_outputs": 1,
            "num_inference_steps": int(params.get("num_inference_steps", 4)),
            "output_format": FORMATS.get(fmt, fmt),
            "disable_safety_checker": not params.get("enable_safety_checker", True),
            "go_fast": False,  # the fast path is not deterministic even with a seed
        }
        if params.get("guidance_scale") is not None:
            inputs["guidance"] = float(params["guidance_scale"])
        return {"version": self.version, "input": inputs} if self.version else {"input": inputs}

    async def submit(self, request: GenerationRequest) -> Submission:
        url = (
            f"{self.base_url}/v1/predictions" if self.version else f"{self.base_url}/v1/models/{self.model}/predictions"
        )
        prediction = await self.api.request_json("POST", url, "create prediction", json=self.payload(request))
        prediction_id = prediction.get("id")
        if not isinstance(prediction_id, str) or not prediction_id:
            raise RetryableError("Replicate create answer has no prediction id")
        raw = prediction.get("urls")
        given: dict[str, Any] = raw if isinstance(raw, dict) else {}
        base = f"{self.base_url}/v1/predictions/{quote(prediction_id)}"
        urls = {"get": base, "cancel": f"{base}/cancel"}
        for name in urls:  # follow the URLs Replicate gives, but send the token only to its API
            if isinstance(given.get(name), str) and on_api_host(given[name], self.base_url):
                urls[name] = given[name]
        return Submission(request_id=prediction_id, urls=urls)

    async def wait(self, submission: Submission) -> GenerationResult:
        async for prediction in self.poll(submission.urls["get"], "prediction"):
            status = prediction.get("status")
            if status == "succeeded":
                return self._result(prediction)
            if status == "failed":
                raise ItemFailed(
                    self.redact(f"Replicate prediction failed: {prediction.get('error') or 'no error given'}")
                )
            if status == "canceled":
                raise ItemFailed("Replicate prediction was canceled")
            if status not in RUNNING:
                raise ItemFailed(f"Replicate prediction has an unknown status {str(status)[:40]!r}")
        raise AssertionError("unreachable: poll() never ends")

    async def cancel(self, submission: Submission) -> bool:
        try:
            await self.api.request("POST", submission.urls["cancel"], "cancel")
        except (FatalRunError, ItemFailed, RequestUnknown, RetryableError):
            return False
        return True

    # -- the answer -------------------------------------------------------------------------
    def _result(self, prediction: dict[str, Any]) -> GenerationResult:
        output = prediction.get("output")
        urls = [output] if isinstance(output, str) else [u for u in output or [] if isinstance(u, str)]
        if not urls:
            raise ItemFailed(f"Replicate prediction succeeded without image URLs: {str(output)[:200]}")
        response = dict(prediction)
        if isinstance(response.get("logs"), str):
            response["logs"] = response["logs"][-MAX_LOGS:]
        return GenerationResult(images=[ImageRef(url=url) for url in urls], response=response)
