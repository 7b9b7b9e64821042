"""fal.ai queue backend (any ``owner/app[/path]`` endpoint) over aiohttp.

Protocol (see fal's queue docs): ``POST {base}/{endpoint}`` submits and answers
``request_id`` with ``status_url``, ``response_url`` and ``cancel_url``, which we always
follow; ``GET {status_url}/stream`` sends server-sent status events until ``COMPLETED``
(plain ``GET {status_url}`` polling is the fallback); ``GET {response_url}`` is the model
output; ``PUT {cancel_url}`` cancels. Auth is ``Authorization: Key $FAL_KEY``.
We speak the protocol directly rather than through fal-client: fal-client is https-only,
reads its hosts at import time and retries invisibly, while the runner needs its own
logged retries and resume.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from viewfinder.errors import (
    BadInput,
    ItemFailed,
    RequestUnknown,
    RetryableError,
)
from viewfinder.providers.api import error_detail, raise_for_status
from viewfinder.providers.http import (
    TRANSPORT_ERRORS,
    Reply,
    json_object,
    new_session,
    send,
    stream_timeout,
)
from viewfinder.providers.keys import Masker, Provider
from viewfinder.providers.pricing import Prices
from viewfinder.providers.types import (
    BackendSettings,
    GenerationRequest,
    GenerationResult,
    ImageRef,
    Submission,
)

DEFAULT_QUEUE_URL = "https://queue.fal.run"
PROVIDER = Provider(
    "fal",
    "FAL_KEY",
    "your fal.ai API key",
    "VIEWFINDER_FAL_URL",
    DEFAULT_QUEUE_URL,
    "https://fal.ai/dashboard/keys",
    "https://fal.ai/dashboard/billing",
)
PRICES = Prices(per_megapixel={"fal:fal-ai/flux/schnell": 0.003, "fal:fal-ai/flux-1/schnell": 0.003})

ENDPOINT = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")


class FalBackend:
    """One fal endpoint; thread-unsafe, one per run and model."""

    name = "fal"

    def __init__(
        self,
        endpoint: str,
        key: str,
        settings: BackendSettings,
        base_url: str = DEFAULT_QUEUE_URL,
    ) -> None:
        if not ENDPOINT.match(endpoint):
            raise BadInput(f"model 'fal:{endpoint}': a fal model id is 'owner/app[/path]', e.g. fal-ai/flux/schnell")
        self.endpoint = endpoint
        self.base_url = base_url.rstrip("/")
        self._submit_url = URL(f"{self.base_url}/{endpoint}")  # parsed once, not per request
        self._stream_timeout = stream_timeout(settings.timeout_s)
        origin = urlsplit(self.base_url)
        self._origin = f"{origin.scheme}://{origin.netloc}/"
        self.settings = settings
        self.stream_status = True
        self.masker = Masker.of(key)
        self._headers = {"Authorization": f"Key {key}", "User-Agent": "viewfinder (fal queue)"}
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_env(cls, endpoint: str, settings: BackendSettings) -> FalBackend:
        key = PROVIDER.key_from_env(f"fal:{endpoint}")
        return cls(endpoint, key, settings, PROVIDER.base_url_from_env())

    # -- the protocol -----------------------------------------------------------------------
    def payload(self, request: GenerationRequest) -> dict[str, Any]:
        params = request.params
        if params.get("width") and params.get("height"):
            size: Any = {"width": int(params["width"]), "height": int(params["height"])}
        else:
            size = params.get("image_size", "landscape_4_3")
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "image_size": size,
            "num_inference_steps": int(params.get("num_inference_steps", 4)),
            "seed": request.seed,
            "num_images": 1,
            "enable_safety_checker": bool(params.get("enable_safety_checker", True)),
            "output_format": params.get("output_format", "jpeg"),
        }
        if params.get("guidance_scale") is not None:
            body["guidance_scale"] = float(params["guidance_scale"])
        return body

    async def submit(self, request: GenerationRequest) -> Submission:
        data = await self._json("POST", self._submit_url, "submit", json=self.payload(request))
        request_id = data.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise RetryableError("fal submit answer has no request_id")
        base = f"{self.base_url}/{'/'.join(self.endpoint.split('/')[:2])}/requests/{request_id}"
        defaults = {"status_url": f"{base}/status", "response_url": base, "cancel_url": f"{base}/cancel"}
        # Follow the URLs fal returns, but only on the queue's own origin: they get the key.
        urls = {name: data[name] if self._same_origin(data.get(name)) else url for name, url in defaults.items()}
        return Submission(request_id=request_id, urls=urls)

    def _same_origin(self, url: Any) -> bool:
        if not isinstance(url, str):
            return False
        return url.startswith(self._origin)

    async def wait(self, submission: Submission) -> GenerationResult:
        status = await (self._stream(submission) if self.stream_status else self._poll(submission))
        if status.get("error"):
            kind = status.get("error_type") or "error"
            raise ItemFailed(self.redact(f"fal reported {kind}: {status['error']}"))
        output = await self._json("GET", submission.urls["response_url"], "result", unknown_is_gone=True)
        return self._result(output, status)

    async def cancel(self, submission: Submission) -> bool:
        try:
            reply = await send(self.session, "PUT", submission.urls["cancel_url"], "fal cancel")
        except RetryableError:
            return False
        return reply.ok

    def redact(self, text: str) -> str:
        return self.masker.mask(text)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The connection pool (made on first use, inside the event loop)."""
        if self._session is None:
            self._session = new_session(self.settings.timeout_s, self.settings.concurrency + 8, self._headers)
        return self._session

    # -- status -----------------------------------------------------------------------------
    async def _status(self, submission: Submission) -> dict[str, Any]:
        return await self._json(
            "GET", submission.urls["status_url"], "status", params={"logs": "0"}, unknown_is_gone=True
        )

    async def _poll(self, submission: Submission) -> dict[str, Any]:
        while True:
            status = await self._status(submission)
            if status.get("status") == "COMPLETED":
                return status
            await asyncio.sleep(self.settings.poll_interval_s)

    async def _stream(self, submission: Submission) -> dict[str, Any]:
        """Follow ``{status_url}/stream`` until COMPLETED; a quiet stream is re-checked."""
        url = URL(submission.urls["status_url"].split("?")[0] + "/stream").with_query(logs="0")
        while True:
            try:
                async with self.session.get(url, timeout=self._stream_timeout) as response:
                    if response.status != 200:  # no stream here (a proxy, an old server): poll
                        await response.read()
                        return await self._without_stream(submission)
                    async for line in response.content:
                        if line.startswith(b"data:"):
                            event = json.loads(line[5:])
                            if event.get("status") == "COMPLETED":
                                return event
            except aiohttp.SocketTimeoutError:
                pass  # nothing said within the timeout: check once, then listen again
            except TRANSPORT_ERRORS as exc:
                raise RetryableError(f"fal status stream: {type(exc).__name__}") from None
            except ValueError:
                raise RetryableError("fal status stream sent invalid JSON") from None
            else:
                raise RetryableError("fal status stream closed before COMPLETED")
            status = await self._status(submission)
            if status.get("status") == "COMPLETED":
                return status

    async def _without_stream(self, submission: Submission) -> dict[str, Any]:
        """The stream URL answered something other than a stream: poll the status URL from now on,
        which tells a gone request (404) or a rejected key from a server without streams."""
        status = await self._status(submission)
        self.stream_status = False
        return status if status.get("status") == "COMPLETED" else await self._poll(submission)

    # -- HTTP plumbing ----------------------------------------------------------------------
    async def _json(
        self, method: str, url: str | URL, what: str, *, unknown_is_gone: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        reply = await send(self.session, method, url, f"fal {what}", **kwargs)
        if reply.status == 404 and unknown_is_gone:
            raise RequestUnknown(f"fal no longer knows this request ({what} answered 404)")
        self._raise_for_status(reply, what)
        return json_object(reply, f"fal {what}")

    def _raise_for_status(self, reply: Reply, what: str) -> None:
        if reply.status >= 300:
            raise_for_status(PROVIDER, reply, what, self.redact(_detail(reply)))

    def _result(self, output: dict[str, Any], status: dict[str, Any]) -> GenerationResult:
        images = []
        for item in output.get("images") or []:
            if isinstance(item, dict) and isinstance(item.get("url"), str):
                images.append(
                    ImageRef(
                        url=item["url"],
                        content_type=item.get("content_type"),
                        width=_int(item.get("width")),
                        height=_int(item.get("height")),
                    )
                )
        if not images:
            raise ItemFailed(self.redact(f"fal returned no images: {json.dumps(output)[:300]}"))
        response = dict(output)
        if status.get("metrics"):
            response["metrics"] = status["metrics"]
        return GenerationResult(images=images, response=response, seed=_int(output.get("seed")))


def _detail(reply: Reply) -> str:
    """fal's error text (``detail``: a string or FastAPI validation errors) and its ``error_type``."""
    text, _ = error_detail(reply)
    try:
        body = json.loads(reply.body)
    except ValueError:
        return text
    error_type = body.get("error_type") if isinstance(body, dict) else None
    return f"{text} ({error_type})" if error_type else text


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
