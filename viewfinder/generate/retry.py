"""Retries for transient failures: exponential backoff with jitter, honouring Retry-After."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

from viewfinder.generate.backend import RetryableError

T = TypeVar("T")


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
