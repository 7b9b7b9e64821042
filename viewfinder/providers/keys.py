"""API keys: where each provider's key and base URL come from, and masking them out of text.

Each provider module declares one :class:`Provider`; :data:`PROVIDER_MODULES` lists those
modules, so :func:`key_variables` is the one list of secret variables (the export masks their
values without a list of its own).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass

from viewfinder.errors import BadInput

PROVIDER_MODULES = ("fal", "openai_images", "replicate", "bfl")
"""Modules of :mod:`viewfinder.providers` that declare a ``PROVIDER``."""

MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words


@dataclass(frozen=True)
class Provider:
    """How a provider is named in messages, where its key and base URL come from, and
    where users fix keys and credits."""

    name: str  # "OpenAI"
    key_env: str  # "OPENAI_API_KEY"
    key_placeholder: str  # "your OpenAI API key", as in ``export OPENAI_API_KEY=<...>``
    base_url_env: str  # "OPENAI_BASE_URL"
    default_base_url: str
    keys_url: str
    billing_url: str

    def key_from_env(self, model: str) -> str:
        """The key from :attr:`key_env`; unset is bad input naming ``model`` and the fix."""
        key = os.environ.get(self.key_env, "").strip()
        if not key:
            raise BadInput(
                f"model '{model}': {self.key_env} is not set; export {self.key_env}=<{self.key_placeholder}> "
                f"({self.keys_url}), or use --dry-run to see the jobs without calling {self.name}"
            )
        return key

    def base_url_from_env(self) -> str:
        return os.environ.get(self.base_url_env) or self.default_base_url


def providers() -> list[Provider]:
    """Every provider's declaration (imports the provider modules)."""
    return [importlib.import_module(f"viewfinder.providers.{name}").PROVIDER for name in PROVIDER_MODULES]


def key_variables() -> tuple[str, ...]:
    """The names of every environment variable that holds a secret."""
    return tuple(dict.fromkeys(provider.key_env for provider in providers()))


@dataclass(frozen=True)
class Masker:
    """Replaces secret values in text; a ``KEY_ID:KEY_SECRET`` key masks both halves too."""

    secrets: tuple[str, ...]
    replacement: str = "***"

    @classmethod
    def of(cls, keys: Iterable[str], replacement: str = "***", min_length: int = MIN_SECRET_LENGTH) -> Masker:
        if isinstance(keys, str):
            keys = [keys]
        parts = {part for key in keys for part in (key, *key.split(":"))}
        found = sorted((p for p in parts if len(p) >= min_length), key=len, reverse=True)
        return cls(tuple(found), replacement)

    @classmethod
    def from_env(cls, replacement: str = "***", min_length: int = MIN_SECRET_LENGTH) -> Masker:
        """A masker for the values of every provider's key variable now set."""
        return cls.of((os.environ.get(name, "") for name in key_variables()), replacement, min_length)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, self.replacement)
        return text
