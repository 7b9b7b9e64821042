"""The one error tree. Every failure is one of three kinds: retry it (:class:`RetryableError`),
fail this item and go on (:class:`ItemFailed`), or stop the run (:class:`StopRun`, an alias of
:class:`FatalRunError`); plus :class:`BadInput`, which the CLI turns into exit 2."""

from __future__ import annotations


class ViewfinderError(Exception):
    """Base class for errors shown to the user without a traceback."""

    exit_code = 1


class BadInput(ViewfinderError):
    """Input the user can fix: the message names the file, the field and the fix (exit 2)."""

    exit_code = 2


class FatalRunError(ViewfinderError):
    """A condition that stops a whole run (a rejected API key, say); stored work is kept."""

    exit_code = 1


StopRun = FatalRunError
"""The third branch of the error tree under its role's name: stop the run, keep stored work."""


class RetryableError(Exception):
    """A transient failure (429, 5xx, timeout, reset): try the same call again after a pause.
    ``retry_after`` is the server's requested pause in seconds, when it sent one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ItemFailed(Exception):
    """A final failure of one item (a rejected input, a model error): recorded, the run goes on."""


class RequestUnknown(Exception):
    """The provider no longer knows a request we submitted (404): submit it again."""
