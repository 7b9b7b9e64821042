"""Escaping text from prompts and models for Markdown (HTML escaping is jinja2's autoescape)."""

from __future__ import annotations

import re
from functools import lru_cache

_INLINE = re.compile(r"([\\`*_\[\]<>&|~])")
_BLOCK_START = re.compile(r"^(\d*)([.)#+-])(?=[\s-]|$)")
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=65536)
def md_text(text: object) -> str:
    """``text`` as literal Markdown on one line: it renders as the characters typed.

    CommonMark lets any ASCII punctuation be escaped with a backslash. Escaping the inline
    markers (emphasis, code, links and images, raw HTML and entities, table pipes,
    strike-through) and a block marker at the start means ``<script>``,
    ``![x](javascript:...)`` or ``**bold**`` show as text. Newlines collapse to spaces so
    text can never open a heading, list, table or HTML block of its own.
    """
    flat = _SPACE.sub(" ", str(text)).strip()
    escaped = _INLINE.sub(r"\\\1", flat)
    return _BLOCK_START.sub(r"\1\\\2", escaped)
