"""Errors that the CLI turns into a clear message and an exit code."""

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
