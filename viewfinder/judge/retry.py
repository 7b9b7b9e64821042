"""Retries of one judge call, with the providers' one retry loop and the judge's defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from viewfinder.providers import retry
from viewfinder.providers.chat import Conversation, JudgeBackend, Reply


@dataclass(frozen=True)
class RetryPolicy(retry.RetryPolicy):
    """Judge calls are slower and costlier than generation requests: fewer attempts, a longer
    first pause, and a server's Retry-After honoured up to two minutes."""

    attempts: int = 5
    initial_s: float = 1.0
    max_retry_after_s: float = 120.0


async def call_with_retries(
    backend: JudgeBackend,
    conversation: Conversation,
    policy: retry.RetryPolicy,
    log: Callable[[str], None],
) -> tuple[Reply, int]:
    """The reply and the number of attempts it took; the last error when all fail."""
    attempts = 0

    async def call() -> Reply:
        nonlocal attempts
        attempts += 1
        return await backend.complete(conversation)

    def note(attempt: int, error: BaseException, wait_s: float) -> None:
        log(f"judge {backend.name}: {error}; retry {attempt} in {wait_s:.1f} s")

    return await retry.with_retries(call, policy, note), attempts
