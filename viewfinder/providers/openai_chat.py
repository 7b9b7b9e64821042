"""Any OpenAI-compatible chat completions API with image input.

OpenAI, vLLM, Ollama, OpenRouter, LM Studio and llama.cpp all serve
``POST {base}/chat/completions``. The base URL comes from ``OPENAI_BASE_URL`` (default
``https://api.openai.com/v1``), the key from ``OPENAI_API_KEY`` (optional for local
servers). The answer schema goes as a strict ``json_schema`` response format. A server that
rejects a feature with a 400 gets the request again without it, for the rest of the run:
``json_object`` with the schema in the prompt instead of ``json_schema``, no logprobs,
``max_completion_tokens`` for ``max_tokens``, no temperature or seed (reasoning models).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import aiohttp

from viewfinder.errors import FatalRunError, ItemFailed, RetryableError
from viewfinder.providers.chat import (
    Alternatives,
    Conversation,
    JudgeBackend,
    Reply,
    TokenLogprobs,
    Usage,
    schema_instruction,
)
from viewfinder.providers.http import Reply as HttpReply
from viewfinder.providers.http import new_session, send
from viewfinder.providers.keys import Masker
from viewfinder.providers.retry import RETRYABLE_STATUS, retry_after

DEFAULT_BASE_URL = "https://api.openai.com/v1"
SCHEMA_NAME = "image_judgement"
TOKEN_PRICES: dict[str, tuple[float, float]] = {  # USD per million input / output tokens (list prices)
    "openai:gpt-4o-mini": (0.15, 0.60),
    "openai:gpt-4o": (2.50, 10.00),
    "openai:gpt-4.1": (2.00, 8.00),
    "openai:gpt-4.1-mini": (0.40, 1.60),
    "openai:gpt-4.1-nano": (0.10, 0.40),
    "openai:gpt-5": (1.25, 10.00),
    "openai:gpt-5-mini": (0.25, 2.00),
    "openai:gpt-5-nano": (0.05, 0.40),
}


class OpenAIChatBackend(JudgeBackend):
    """A judge behind an OpenAI-protocol chat completions endpoint."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        max_tokens: int = 1200,
        top_logprobs: int = 5,
        max_concurrency: int = 8,
    ) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self.top_logprobs = top_logprobs
        self.max_concurrency = max_concurrency
        # Optional features, dropped (for the rest of the run) when a server rejects them.
        self.strict_schema = True
        self.logprobs = top_logprobs > 0
        self.sampling: dict[str, Any] = {"temperature": 0, "seed": 0}
        self.token_field = "max_tokens"  # reasoning models want max_completion_tokens
        self._masker = Masker.of(self._api_key)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        self._session = new_session(self.timeout_s, self.max_concurrency, headers)

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def request_body(self, conversation: Conversation) -> dict[str, Any]:
        """The chat completions request for one conversation in the current mode."""
        system = conversation.system
        if self.strict_schema:
            response_format: dict[str, Any] = {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": conversation.schema},
            }
        else:
            response_format = {"type": "json_object"}
            system = system + "\n\n" + schema_instruction(conversation.schema)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": conversation.user},
                    {
                        "type": "image_url",
                        "image_url": {"url": conversation.image.data_url, "detail": "auto"},
                    },
                ],
            },
        ]
        messages += [{"role": role, "content": text} for role, text in conversation.turns]
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            **self.sampling,
            self.token_field: self.max_tokens,
            "response_format": response_format,
        }
        if self.logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = self.top_logprobs
        return body

    async def complete(self, conversation: Conversation) -> Reply:
        if self._session is None:
            raise RuntimeError("call start() before complete()")
        while True:
            body = self.request_body(conversation)
            response = await send(self._session, "POST", f"{self.base_url}/chat/completions", "the call", json=body)
            if response.status == 400 and self._adapt(_error_message(response), body):
                continue
            self._raise_for_status(response)
            return _parse_reply(response)

    def _adapt(self, message: str, sent: dict[str, Any]) -> bool:
        """Drop or rename the feature a 400 names, for this and later calls; True to send again.

        Decided on what this request sent, so concurrent calls that hit the same 400 agree.
        """
        lowered = message.lower()
        if "logprobs" in sent and "logprob" in lowered:
            self.logprobs = False
        elif "max_tokens" in sent and "max_completion_tokens" in lowered:
            self.token_field = "max_completion_tokens"
        elif "temperature" in sent and "temperature" in lowered:
            self.sampling.pop("temperature", None)
        elif "seed" in sent and "seed" in lowered:
            self.sampling.pop("seed", None)
        elif sent["response_format"]["type"] == "json_schema" and (
            "response_format" in lowered or "json_schema" in lowered
        ):
            self.strict_schema = False
        else:
            return False
        return True

    def _raise_for_status(self, response: HttpReply) -> None:
        status = response.status
        if status < 400:
            return
        if status in (401, 403):
            raise FatalRunError(
                f"judge {self.name}: {self.base_url} refused the request (HTTP {status}); "
                "check OPENAI_API_KEY and OPENAI_BASE_URL"
            )
        message = self._masker.mask(_error_message(response))
        if status == 429 and b"insufficient_quota" in response.body:
            raise FatalRunError(f"judge {self.name}: the account has no quota left (HTTP 429: {message})")
        if status in RETRYABLE_STATUS:
            raise RetryableError(f"HTTP {status}: {message}", retry_after(response.headers))
        raise ItemFailed(f"HTTP {status}: {message}")


def _error_message(response: HttpReply) -> str:
    try:
        body = json.loads(response.body)
    except ValueError:
        return response.body[:300].decode("utf-8", "replace")
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or error.get("code") or error)[:300]
        return f"{message} (param: {error['param']})" if error.get("param") else message
    return str(error or body)[:300]


def _parse_reply(response: HttpReply) -> Reply:
    try:
        body = json.loads(response.body)
        choice = body["choices"][0]
        message = choice.get("message") or {}
    except (ValueError, KeyError, IndexError, TypeError):
        raise RetryableError(f"HTTP {response.status}: not a chat completion: {response.body[:200]!r}") from None
    usage = body.get("usage") or {}
    return Reply(
        content=message.get("content"),
        refusal=message.get("refusal"),
        finish_reason=choice.get("finish_reason"),
        usage=Usage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        ),
        logprobs=_logprobs(choice.get("logprobs")),
        provenance=_provenance(body, response.headers),
    )


def _provenance(body: dict[str, Any], headers: Mapping[str, str]) -> dict[str, str]:
    """What pins the answer down later: the exact model snapshot, fingerprint and request id."""
    found = {
        "served_model": body.get("model"),
        "system_fingerprint": body.get("system_fingerprint"),
        "request_id": headers.get("x-request-id") or body.get("id"),
    }
    return {key: str(value)[:200] for key, value in found.items() if value}


def _logprobs(block: Any) -> TokenLogprobs | None:
    """The tokens' texts now; a token's log probability and alternatives when asked for."""
    entries = block.get("content") if isinstance(block, dict) else None
    if not isinstance(entries, list):
        return None
    try:
        texts = tuple(entry["token"] for entry in entries)
    except (KeyError, TypeError):
        return None

    def decode(index: int) -> tuple[float, Alternatives]:
        entry = entries[index]
        top = tuple((alt["token"], float(alt["logprob"])) for alt in entry.get("top_logprobs") or [])
        return float(entry["logprob"]), top

    return TokenLogprobs(texts, decode)
