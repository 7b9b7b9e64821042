"""Retries of one judge call: 429 (honouring Retry-After), 5xx and timeouts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from viewfinder.judge.backend import Conversation, JudgeBackend, Reply, RetryableCallError

MAX_RETRY_AFTER_S = 120.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_wait_s: float = 1.0
    max_wait_s: float = 30.0


async def call_with_retries(
    backend: JudgeBackend,
    conversation: Conversation,
    policy: RetryPolicy,
    log: Callable[[str], None],
) -> tuple[Reply, int]:
    """The reply and the number of attempts it took; the last error when all fail."""
    backoff = wait_exponential_jitter(multiplier=policy.base_wait_s, max=policy.max_wait_s, jitter=policy.base_wait_s)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableCallError) and error.retry_after is not None:
            seconds = min(error.retry_after, MAX_RETRY_AFTER_S)
        else:
            seconds = backoff(state)
        log(f"judge {backend.name}: {error}; retry {state.attempt_number} in {seconds:.1f} s")
        return seconds

    attempts = 0
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        retry=retry_if_exception_type(RetryableCallError),
        reraise=True,
    ):
        with attempt:
            attempts += 1
            reply = await backend.complete(conversation)
    return reply, attempts
