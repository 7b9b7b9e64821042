"""The one HTTP stack of every provider (generation and judge): aiohttp with per-request timeouts.

aiohttp, not httpx, because at 64+ requests in flight httpx costs ~0.8 ms of CPU per
request against ~0.2 ms here (bench/generation.py), and a generated image takes four
requests (submit, status stream, result, download).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from viewfinder.errors import FatalRunError, RetryableError


@dataclass(frozen=True)
class Reply:
    """A whole HTTP answer: status, headers and body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError)
CONNECT_ERRORS = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
UNREACHABLE_AFTER = 3
"""Connections in a row that may fail to one host before the stage stops (instead of every
job retrying a dead name or port on its own)."""


class HostUnreachable(FatalRunError):
    """:data:`UNREACHABLE_AFTER` connections in a row to one host failed: stop the stage (a
    :class:`FatalRunError`, so no retry loop or transport handler swallows it)."""


class _WatchedConnector(aiohttp.TCPConnector):
    """A TCP connector that counts failed connections per host; every request of every
    provider (submit, status stream, result, download, judge call) connects through it."""

    def __init__(self, *, unreachable_after: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.unreachable_after = unreachable_after
        self.failures_in_a_row: dict[str, int] = {}

    async def connect(self, req: Any, *args: Any, **kwargs: Any) -> Any:
        host = f"{req.url.host}:{req.url.port}" if req.url.port else str(req.url.host)
        try:
            connection = await super().connect(req, *args, **kwargs)
        except CONNECT_ERRORS as exc:
            failures = self.failures_in_a_row[host] = self.failures_in_a_row.get(host, 0) + 1
            if failures >= self.unreachable_after:
                raise HostUnreachable(
                    f"cannot reach {host}: {_cause(exc)} ({failures} connections in a row failed); check the "
                    "network, the proxy settings, or the service's base URL (VIEWFINDER_FAL_URL, OPENAI_BASE_URL, "
                    "...). Finished work is kept; run again to resume."
                ) from None
            raise
        self.failures_in_a_row[host] = 0
        return connection


def _cause(exc: BaseException) -> str:
    """Why a connection failed, in words (name resolution, refused, timed out, ...)."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connecting timed out"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"the name does not resolve ({exc.os_error.strerror or exc.os_error})"
    os_error = getattr(exc, "os_error", None)
    return (getattr(os_error, "strerror", None) or str(os_error or exc) or type(exc).__name__).strip()


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def new_session(timeout_s: float, connections: int, headers: Mapping[str, str] | None = None) -> aiohttp.ClientSession:
    """A session whose requests each time out after ``timeout_s`` (call inside the event loop);
    :data:`UNREACHABLE_AFTER` failed connections in a row to one host raise :class:`HostUnreachable`."""
    return aiohttp.ClientSession(
        headers=dict(headers or {}),
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        connector=_WatchedConnector(limit=connections, ttl_dns_cache=300, unreachable_after=UNREACHABLE_AFTER),
        raise_for_status=False,
        trust_env=_proxy_configured(),
    )


def _proxy_configured() -> bool:
    """Whether proxy variables are set: aiohttp's trust_env looks them up in a thread per request."""
    return any(os.environ.get(name) for name in PROXY_VARIABLES)


def stream_timeout(timeout_s: float) -> aiohttp.ClientTimeout:
    """For long-lived streams: no total limit, ``timeout_s`` to connect and between reads."""
    return aiohttp.ClientTimeout(total=None, sock_connect=timeout_s, sock_read=timeout_s)


async def send(session: aiohttp.ClientSession, method: str, url: str | URL, what: str, **kwargs: Any) -> Reply:
    """One request read whole; a transport failure (reset, refused, timed out) is a
    :class:`RetryableError` whose message names ``what`` and the kind of failure."""
    try:
        async with session.request(method, url, **kwargs) as response:
            return Reply(response.status, response.headers, await response.read())
    except TRANSPORT_ERRORS as exc:
        kind = "timed out" if isinstance(exc, TimeoutError) else "connection failed"
        raise RetryableError(f"{what} {kind} ({type(exc).__name__})") from None


def json_object(reply: Reply, what: str) -> dict[str, Any]:
    """The body as a JSON object; anything else (a cut-off body, say) is retried."""
    try:
        data = json.loads(reply.body)
    except ValueError:
        raise RetryableError(f"{what} answer is not valid JSON (truncated?)") from None
    if not isinstance(data, dict):
        raise RetryableError(f"{what} answer is not a JSON object")
    return data
