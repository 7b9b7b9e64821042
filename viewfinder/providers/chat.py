"""What a vision-chat model (the VLM judge) takes and gives back: a conversation with one
image and a JSON schema for the answer, and the reply with its usage and token log probabilities."""

from __future__ import annotations

import base64
import json
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import accumulate
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EncodedImage:
    """An image file read once; its data URL is built once and reused by every attempt."""

    mime: str
    data: bytes

    @classmethod
    def read(cls, path: Path) -> EncodedImage:
        data = path.read_bytes()
        return cls(mime=sniff_mime(data), data=data)

    @cached_property
    def data_url(self) -> str:
        return f"data:{self.mime};base64," + base64.b64encode(self.data).decode("ascii")


def sniff_mime(data: bytes) -> str:
    """The image type from the file's first bytes (PNG, JPEG, WebP, GIF)."""
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"GIF8":
        return "image/gif"
    raise ValueError("not a PNG, JPEG, WebP or GIF file")


@dataclass(frozen=True)
class Conversation:
    """System text, the first user turn (text + image), then any later text turns."""

    system: str
    user: str
    image: EncodedImage
    schema: dict[str, Any]
    turns: tuple[tuple[str, str], ...] = ()  # (role, text) after the first user turn

    def followed_by(self, *turns: tuple[str, str]) -> Conversation:
        return replace(self, turns=self.turns + turns)


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token, its log probability and the top alternatives."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


Alternatives = tuple[tuple[str, float], ...]


class TokenLogprobs:
    """A reply's tokens, each with its log probability and top alternatives, decoded only for
    the tokens asked about: a judge reply has hundreds of tokens and the judge reads two."""

    def __init__(self, texts: tuple[str, ...], decode: Callable[[int], tuple[float, Alternatives]]) -> None:
        self.texts = texts
        self._decode = decode  # token index -> (log probability, top alternatives)

    @classmethod
    def of(cls, tokens: Iterable[TokenLogprob]) -> TokenLogprobs:
        """From decoded tokens (local models, tests)."""
        kept = tuple(tokens)
        return cls(tuple(token.token for token in kept), lambda index: (kept[index].logprob, kept[index].top))

    @cached_property
    def text(self) -> str:
        """The tokens spelled out (equal to the reply's content when the API is consistent)."""
        return "".join(self.texts)

    @cached_property
    def _ends(self) -> list[int]:
        return list(accumulate(len(text) for text in self.texts))

    def __len__(self) -> int:
        return len(self.texts)

    def token_at(self, offset: int) -> TokenLogprob | None:
        """The token holding character ``offset`` of :attr:`text` (None past its end)."""
        index = bisect_right(self._ends, offset)
        if index >= len(self.texts):
            return None
        logprob, top = self._decode(index)
        return TokenLogprob(self.texts[index], logprob, top)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reported_usd: float | None = None  # when the API states the price of the call itself


@dataclass(frozen=True)
class Reply:
    """A backend's answer to one call, before validation."""

    content: str | None
    usage: Usage = field(default_factory=Usage)
    refusal: str | None = None
    finish_reason: str | None = None
    logprobs: TokenLogprobs | None = None
    provenance: dict[str, str] = field(default_factory=dict)  # served model, fingerprint, request id


class JudgeBackend(ABC):
    """One way to ask a VLM: an API or a local model."""

    name: str  # "openai:gpt-4o-mini", as stored in ``judge_model``
    max_concurrency: int = 8

    async def start(self) -> None:  # noqa: B027 (an optional hook: local models open nothing)
        """Open connections for one batch (inside the batch's event loop)."""

    async def stop(self) -> None:  # noqa: B027 (an optional hook)
        """Close what :meth:`start` opened."""

    @abstractmethod
    async def complete(self, conversation: Conversation) -> Reply:
        """Send one conversation; raise the errors above on failure."""


SCHEMA_INSTRUCTION = "Answer with one JSON object that follows this JSON schema exactly:\n"


def schema_instruction(schema: dict[str, Any]) -> str:
    """The answer's schema written out, for servers that cannot take it as a response format."""
    return SCHEMA_INSTRUCTION + json.dumps(schema, separators=(",", ":"))
