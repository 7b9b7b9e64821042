"""What every judge backend takes and gives back (the types live with the provider layer), and
the judge's names for two branches of the one error tree."""

from __future__ import annotations

from viewfinder.errors import ItemFailed, RetryableError
from viewfinder.providers.chat import (
    Conversation,
    EncodedImage,
    JudgeBackend,
    Reply,
    TokenLogprob,
    Usage,
    sniff_mime,
)

RetryableCallError = RetryableError
CallError = ItemFailed

__all__ = [
    "CallError",
    "Conversation",
    "EncodedImage",
    "JudgeBackend",
    "Reply",
    "RetryableCallError",
    "TokenLogprob",
    "Usage",
    "sniff_mime",
]
