"""fal.ai vision models through fal's queue, with the same ``FAL_KEY`` as generation.

``--judge fal:<model>`` sends the image to fal's OpenRouter vision router
(``openrouter/router/vision``; input ``model``, ``prompt``, ``system_prompt``,
``image_urls``, ``temperature``, ``max_tokens``; output ``output`` and, where given,
``usage``), so ``<model>`` is any OpenRouter vision model slug such as
``google/gemini-2.5-flash``. Protocol: ``POST {VIEWFINDER_FAL_URL}/{endpoint}``, then
follow the returned ``status_url`` until ``COMPLETED`` and read ``response_url``. The router
has no response-format option, so the answer schema is written into the system prompt and
the reply is validated like every other.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import aiohttp

from viewfinder.errors import FatalRunError, ItemFailed, RetryableError
from viewfinder.providers.chat import (
    Conversation,
    JudgeBackend,
    Reply,
    Usage,
    schema_instruction,
)
from viewfinder.providers.http import Reply as HttpReply
from viewfinder.providers.http import json_object, new_session, send
from viewfinder.providers.keys import Masker
from viewfinder.providers.retry import RETRYABLE_STATUS, retry_after

DEFAULT_QUEUE_URL = "https://queue.fal.run"
VISION_ENDPOINT = "openrouter/router/vision"
TOKEN_PRICES: dict[str, tuple[float, float]] = {  # USD per million input / output tokens (OpenRouter list prices)
    "fal:google/gemini-2.5-flash": (0.30, 2.50),
    "fal:google/gemini-2.5-flash-lite": (0.10, 0.40),
    "fal:openai/gpt-4o-mini": (0.15, 0.60),
}


class FalVisionBackend(JudgeBackend):
    """A judge behind fal's queue API."""

    def __init__(
        self,
        model: str,
        *,
        endpoint: str = VISION_ENDPOINT,
        base_url: str | None = None,
        key: str | None = None,
        poll_interval_s: float = 0.5,
        timeout_s: float = 300.0,
        max_tokens: int = 1200,
        max_concurrency: int = 8,
    ) -> None:
        self.model = model
        self.name = f"fal:{model}"
        self.endpoint = endpoint
        self.base_url = (base_url or os.environ.get("VIEWFINDER_FAL_URL") or DEFAULT_QUEUE_URL).rstrip("/")
        self._key = key if key is not None else os.environ.get("FAL_KEY", "")
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self.max_concurrency = max_concurrency
        self._masker = Masker.of(self._key)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        headers = {"Authorization": f"Key {self._key}", "User-Agent": "viewfinder (judge)"}
        self._session = new_session(60.0, self.max_concurrency + 4, headers)

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def arguments(self, conversation: Conversation) -> dict[str, Any]:
        """The router's input for one conversation (later turns are appended as text)."""
        prompt = conversation.user
        for role, text in conversation.turns:
            label = "Your previous answer" if role == "assistant" else "Note"
            prompt += f"\n\n{label}:\n{text}"
        return {
            "model": self.model,
            "system_prompt": conversation.system + "\n\n" + schema_instruction(conversation.schema),
            "prompt": prompt,
            "image_urls": [conversation.image.data_url],
            "temperature": 0,
            "max_tokens": self.max_tokens,
        }

    async def complete(self, conversation: Conversation) -> Reply:
        submitted = await self._json("POST", f"{self.base_url}/{self.endpoint}", json=self.arguments(conversation))
        try:
            status_url, response_url = submitted["status_url"], submitted["response_url"]
        except (KeyError, TypeError):
            raise RetryableError("fal answered the submit without status_url/response_url") from None
        deadline = time.monotonic() + self.timeout_s
        while True:
            status = await self._json("GET", status_url)
            if status.get("status") == "COMPLETED":
                if status.get("error"):
                    raise ItemFailed(f"fal: {self._redact(str(status['error']))[:300]}")
                break
            if time.monotonic() > deadline:
                if submitted.get("cancel_url"):
                    await send(self._session_or_fail(), "PUT", submitted["cancel_url"], "fal cancel")
                raise RetryableError(f"fal did not finish within {self.timeout_s:.0f} s")
            await asyncio.sleep(self.poll_interval_s)
        result = await self._json("GET", response_url)
        if result.get("error"):
            raise ItemFailed(f"fal: {self._redact(str(result['error']))[:300]}")
        usage = result.get("usage") or {}
        cost = usage.get("cost")
        return Reply(
            content=result.get("output"),
            provenance={"request_id": str(submitted.get("request_id", ""))[:200], "endpoint": self.endpoint},
            usage=Usage(
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                reported_usd=float(cost) if isinstance(cost, (int, float)) else None,
            ),
        )

    def _session_or_fail(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("call start() before complete()")
        return self._session

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        response = await send(self._session_or_fail(), method, url, "fal", **kwargs)
        status = response.status
        if status in (401, 403):
            raise FatalRunError(f"judge {self.name}: fal refused the key (HTTP {status}); check FAL_KEY")
        if status in RETRYABLE_STATUS:
            raise RetryableError(f"fal HTTP {status}: {self._detail(response)}", retry_after(response.headers))
        if status >= 400:
            raise ItemFailed(f"fal HTTP {status}: {self._detail(response)}")
        return json_object(response, f"fal HTTP {status}:")

    def _detail(self, response: HttpReply) -> str:
        text = response.body.decode("utf-8", "replace")
        try:
            detail: Any = json.loads(response.body).get("detail", text)
        except (ValueError, AttributeError):
            detail = text
        return self._redact(str(detail))[:300]

    def _redact(self, text: str) -> str:
        return self._masker.mask(text)
