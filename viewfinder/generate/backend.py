"""The generation backend protocol: what the runner needs from a provider.

A backend turns one job into one queued request (``submit``), waits for it (``wait``),
and returns where its images are (``GenerationResult``). The runner owns concurrency,
retries, resume, downloads and the cost ledger; the wire protocols live in
:mod:`viewfinder.providers`, and :mod:`viewfinder.generate.registry` maps a model prefix to
its backend, so a new backend is one provider module plus one registry line.
"""

from __future__ import annotations

from typing import Any, Protocol

from viewfinder.providers.types import GenerationRequest, GenerationResult, Submission


class Backend(Protocol):
    """What the runner needs from a provider."""

    name: str

    def payload(self, request: GenerationRequest) -> dict[str, Any]:
        """The exact input sent for ``request`` (stored with the job, never secrets)."""

    async def submit(self, request: GenerationRequest) -> Submission:
        """Queue the request; raise RetryableError, ItemFailed or FatalRunError."""

    async def wait(self, submission: Submission) -> GenerationResult:
        """Wait until done and fetch the result; raise RequestUnknown when it is gone."""

    async def cancel(self, submission: Submission) -> bool:
        """Ask the provider to drop the request; True when it accepted."""

    def redact(self, text: str) -> str:
        """``text`` with every secret this backend holds masked."""

    async def aclose(self) -> None:
        """Release connections."""
