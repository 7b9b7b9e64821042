"""Any OpenAI-compatible chat completions API with image input.

OpenAI, vLLM, Ollama, OpenRouter, LM Studio and llama.cpp all serve
``POST {base}/chat/completions``. The base URL comes from ``OPENAI_BASE_URL`` (default
``https://api.openai.com/v1``), the key from ``OPENAI_API_KEY`` (optional for local
servers). The answer schema goes as a strict ``json_schema`` response format; a server
that rejects it (or logprobs) gets ``json_object`` with the schema in the prompt instead,
remembered for the rest of the run.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from viewfinder.errors import FatalRunError
from viewfinder.judge.backend import (
    CallError,
    Conversation,
    JudgeBackend,
    Reply,
    RetryableCallError,
    TokenLogprob,
    Usage,
    retry_after_seconds,
)
from viewfinder.judge.prompt import schema_instruction

DEFAULT_BASE_URL = "https://api.openai.com/v1"
SCHEMA_NAME = "image_judgement"


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
        self.strict_schema = True
        self.logprobs = top_logprobs > 0
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(self.timeout_s, connect=15.0),
            limits=httpx.Limits(max_connections=self.max_concurrency),
        )

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

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
            system = system + "\n\n" + schema_instruction()
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": conversation.user},
                    {"type": "image_url", "image_url": {"url": conversation.image.data_url, "detail": "auto"}},
                ],
            },
        ]
        messages += [{"role": role, "content": text} for role, text in conversation.turns]
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "seed": 0,
            "max_tokens": self.max_tokens,
            "response_format": response_format,
        }
        if self.logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = self.top_logprobs
        return body

    async def complete(self, conversation: Conversation) -> Reply:
        if self._client is None:
            raise RuntimeError("call start() before complete()")
        while True:
            sent = (self.strict_schema, self.logprobs)
            try:
                response = await self._client.post("/chat/completions", json=self.request_body(conversation))
            except httpx.TimeoutException as exc:
                raise RetryableCallError(f"timed out ({type(exc).__name__})") from None
            except httpx.TransportError as exc:
                raise RetryableCallError(f"connection failed ({type(exc).__name__})") from None
            if response.status_code == 400 and self._downgrade(_error_message(response), *sent):
                continue
            self._raise_for_status(response)
            return _parse_reply(response)

    def _downgrade(self, message: str, sent_strict: bool, sent_logprobs: bool) -> bool:
        """Drop a feature the server rejected (for this and later calls); True to send again."""
        lowered = message.lower()
        if sent_logprobs and "logprob" in lowered:
            self.logprobs = False
            return True
        if sent_strict and ("response_format" in lowered or "json_schema" in lowered):
            self.strict_schema = False
            return True
        return False

    def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        if status in (401, 403):
            raise FatalRunError(
                f"judge {self.name}: {self.base_url} refused the request (HTTP {status}); "
                "check OPENAI_API_KEY and OPENAI_BASE_URL"
            )
        message = self._redact(_error_message(response))
        if status == 429 and "insufficient_quota" in response.text:
            raise FatalRunError(f"judge {self.name}: the account has no quota left (HTTP 429: {message})")
        if status == 429 or status >= 500 or status == 408:
            raise RetryableCallError(f"HTTP {status}: {message}", retry_after_seconds(response.headers))
        raise CallError(f"HTTP {status}: {message}")

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or error)[:300]
    return str(error or body)[:300]


def _parse_reply(response: httpx.Response) -> Reply:
    try:
        body = response.json()
        choice = body["choices"][0]
        message = choice.get("message") or {}
    except (ValueError, KeyError, IndexError, TypeError):
        raise RetryableCallError(f"HTTP {response.status_code}: not a chat completion: {response.text[:200]!r}") from None
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
    )


def _logprobs(block: Any) -> tuple[TokenLogprob, ...] | None:
    if not isinstance(block, dict) or not isinstance(block.get("content"), list):
        return None
    tokens = []
    for entry in block["content"]:
        top = tuple((alt["token"], float(alt["logprob"])) for alt in entry.get("top_logprobs") or [])
        tokens.append(TokenLogprob(token=entry["token"], logprob=float(entry["logprob"]), top=top))
    return tuple(tokens)
