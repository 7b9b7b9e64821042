"""HTTP plumbing shared by the key-authenticated generation APIs (OpenAI, Replicate, BFL),
over the aiohttp session of :mod:`viewfinder.providers.http`.

One place maps HTTP answers onto the runner's errors, the same way for every provider:
401/403 stop the run (the key is wrong), 402 and OpenAI's ``insufficient_quota`` stop it
too (no credits), 400/422 fail the job with the provider's own detail, 408/409/425/429/5xx
and transport errors are retried (honouring Retry-After), and a 404 on a request we
submitted means the provider forgot it. Every message passes through :meth:`redact`.
:class:`ApiBackend` is what those backends share besides: their key and base URL from
the environment (unset is bad input naming the variable), redaction and closing.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp

from viewfinder.errors import (
    BadInput,
    FatalRunError,
    ItemFailed,
    RequestUnknown,
    RetryableError,
)
from viewfinder.providers.http import Reply, json_object, new_session, send
from viewfinder.providers.keys import Masker, Provider
from viewfinder.providers.retry import RETRYABLE_STATUS, retry_after
from viewfinder.providers.types import BackendSettings

NO_CREDIT_CODES = {"insufficient_quota", "billing_hard_limit_reached"}


class ApiBackend:
    """What the key-authenticated backends share: made from the environment, and a
    :class:`ApiClient` (``self.api``) that masks the key and holds the connections."""

    name: str  # the backend prefix, "openai"
    provider: Provider
    model_id: re.Pattern[str]  # what a model id of this provider looks like
    model_id_help: str  # said when it does not: "an OpenAI model id is a single name, e.g. ..."

    def __init__(self, model: str, key: str, settings: BackendSettings, base_url: str | None = None) -> None:
        self.match = self.model_id.match(model)
        if self.match is None:
            raise BadInput(f"model '{self.name}:{model}': {self.model_id_help}")
        self.model = model
        self.base_url = (base_url or self.provider.default_base_url).rstrip("/")
        self.settings = settings
        self.api = ApiClient(self.provider, key, self.auth_headers(key), settings)

    def auth_headers(self, key: str) -> dict[str, str]:
        """The headers that carry the key (a bearer token unless the provider says otherwise)."""
        return {"Authorization": f"Bearer {key}"}

    async def poll(self, url: str, what: str) -> AsyncIterator[dict[str, Any]]:
        """The answer at ``url`` once every poll interval, first after one (nothing is done at once)."""
        while True:
            await asyncio.sleep(self.settings.poll_interval_s)
            yield await self.api.request_json("GET", url, what, unknown_is_gone=True)

    @classmethod
    def from_env(cls, model: str, settings: BackendSettings) -> Self:
        """The backend for ``model`` with the key and base URL from the environment."""
        key = cls.provider.key_from_env(f"{cls.name}:{model}")
        return cls(model, key, settings, cls.provider.base_url_from_env())

    def redact(self, text: str) -> str:
        return self.api.redact(text)

    async def aclose(self) -> None:
        await self.api.aclose()


class ApiClient:
    """An aiohttp session for one provider that answers JSON or raises the runner's errors."""

    def __init__(self, provider: Provider, key: str, auth_headers: dict[str, str], settings: BackendSettings) -> None:
        self.provider = provider
        self.auth_headers = auth_headers
        self.settings = settings
        self.masker = Masker.of(key)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The connection pool (made on first use, inside the event loop)."""
        if self._session is None:
            self._session = new_session(
                self.settings.timeout_s,
                self.settings.concurrency + 8,
                {"User-Agent": f"viewfinder ({self.provider.name})"},
            )
        return self._session

    def redact(self, text: str) -> str:
        """``text`` with the key masked."""
        return self.masker.mask(text)

    async def request(
        self,
        method: str,
        url: str,
        what: str,
        *,
        authenticated: bool = True,
        unknown_is_gone: bool = False,
        timeout_s: float | None = None,
        **kwargs: Any,
    ) -> Reply:
        """Send one request; a non-2xx answer raises the matching runner error.
        ``timeout_s`` replaces the run's per-request timeout (for slow synchronous APIs)."""
        headers = self.auth_headers if authenticated else {}
        if timeout_s is not None:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout_s)
        reply = await send(self.session, method, url, f"{self.provider.name} {what}", headers=headers, **kwargs)
        if reply.status == 404 and unknown_is_gone:
            raise RequestUnknown(f"{self.provider.name} no longer knows this request ({what} answered 404)")
        self.raise_for_status(reply, what)
        return reply

    async def request_json(self, method: str, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        """:meth:`request`, then the body as a JSON object (a cut-off body is retried)."""
        return self.json_object(await self.request(method, url, what, **kwargs), what)

    def json_object(self, reply: Reply, what: str) -> dict[str, Any]:
        return json_object(reply, f"{self.provider.name} {what}")

    def raise_for_status(self, reply: Reply, what: str) -> None:
        if reply.status >= 300:
            text, error_code = error_detail(reply)
            raise_for_status(self.provider, reply, what, self.redact(text), error_code)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def raise_for_status(provider: Provider, reply: Reply, what: str, detail: str, error_code: str | None = None) -> None:
    """Map a non-2xx answer onto the error tree, the same way for every provider (``detail``
    is the provider's error text, already masked)."""
    code = reply.status
    if code < 300:
        return
    name, keep = provider.name, "Finished images are kept; run again to resume."
    if code in (401, 403):
        raise FatalRunError(
            f"{name} refused the API key ({what}: HTTP {code}: {detail}); check {provider.key_env} "
            f"({provider.keys_url}). {keep}"
        )
    if code == 402 or error_code in NO_CREDIT_CODES:
        raise FatalRunError(
            f"{name} has no credit left for this key ({what}: HTTP {code}: {detail}); add credits at "
            f"{provider.billing_url}. {keep}"
        )
    if code in RETRYABLE_STATUS:
        raise RetryableError(f"{name} {what}: HTTP {code}: {detail}", retry_after(reply.headers))
    if code in (400, 422):
        raise ItemFailed(f"{name} rejected the input (HTTP {code}): {detail}")
    raise ItemFailed(f"{name} {what}: HTTP {code}: {detail}")


def on_api_host(url: str, base_url: str, trusted_domain: str | None = None) -> bool:
    """Whether ``url`` may receive the key: the base URL's own scheme and host, or https on
    ``trusted_domain`` and its subdomains (a provider's regional hosts)."""
    parts, base = urlsplit(url), urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme == base.scheme and host == base.hostname and parts.port == base.port:
        return True
    return (
        bool(trusted_domain)
        and parts.scheme == "https"
        and (host == trusted_domain or host.endswith(f".{trusted_domain}"))
    )


def error_detail(reply: Reply) -> tuple[str, str | None]:
    """The provider's error text and machine code, from any of the usual shapes:
    OpenAI ``{"error": {"message", "code"}}``, RFC 7807 ``{"title", "detail"}`` (Replicate)
    and FastAPI ``{"detail": str | [{"loc", "msg", "type"}]}`` (BFL)."""
    try:
        body = json.loads(reply.body)
    except ValueError:
        return reply.body[:300].decode("utf-8", "replace") or f"HTTP {reply.status}", None
    if not isinstance(body, dict):
        return json.dumps(body)[:300], None
    error = body.get("error")
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        message = str(error.get("message") or json.dumps(error)[:300])
        return (f"{message} ({code})" if code else message), (str(code) if code else None)
    detail = body.get("detail")
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item.get('msg', '')} ({item.get('type', '')})".strip())
            else:
                parts.append(str(item))
        return "; ".join(parts), None
    title = body.get("title")
    if detail is not None:
        text = "; ".join(line.strip() for line in str(detail).splitlines() if line.strip())
        return (f"{title}: {text}" if title and title not in text else text), None
    return str(title or error or json.dumps(body)[:300]), None
