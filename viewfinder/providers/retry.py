"""The one retry policy: which answers are transient, how long to wait (exponential backoff
with jitter, or the server's Retry-After), and the loop that retries."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from viewfinder.errors import RetryableError

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
"""HTTP statuses worth the same request again: timeouts, conflicts, too early, rate limits, 5xx."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait between attempts of one request."""

    attempts: int = 6
    initial_s: float = 0.5
    max_s: float = 30.0
    max_retry_after_s: float = 300.0

    def wait_s(self, attempt: int, error: BaseException | None) -> float:
        """Pause after failed ``attempt`` (1-based): the server's Retry-After, else
        ``initial * 2**(attempt-1)`` capped at ``max_s``, with jitter in its upper half."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            wait = min(retry_after, self.max_retry_after_s)
            return wait + random.uniform(0, 0.1 * wait)
        base = min(self.max_s, self.initial_s * 2 ** (attempt - 1))
        return random.uniform(base / 2, base)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms`` (OpenAI) first, else
    ``Retry-After``; None when neither is there or readable."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"))


async def with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Run ``call`` until it succeeds, retrying only :class:`RetryableError`.

    ``on_retry(attempt, error, wait_s)`` is told about each pause; the last error is raised
    when the attempts run out. (A plain loop: tenacity's per-call setup inspects the callable
    and costs more CPU than the whole request on the success path.)"""
    for attempt in range(1, policy.attempts + 1):
        try:
            return await call()
        except RetryableError as error:
            if attempt == policy.attempts:
                raise
            wait = policy.wait_s(attempt, error)
            if on_retry is not None:
                on_retry(attempt, error, wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable: attempts >= 1")
