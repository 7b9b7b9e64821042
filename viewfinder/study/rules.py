"""What a prompt field may hold: one set of rules for the study loader and ``viewfinder prompt``.

A field must survive the grammar's round trip: ';' separates the prompt's parts, the first ':'
ends the emotion and the first space ends the topic, so a field holding one of those would
make a prompt that does not parse back into the same fields. A camera must name an angle or a
shot size the adherence scoring knows.
"""

from __future__ import annotations

from viewfinder.errors import BadInput
from viewfinder.study.vocabulary import camera_help, parse_camera


def field_problem(name: str, value: str) -> str | None:
    """Why ``value`` cannot be the prompt field ``name`` (with the fix), or None when it can."""
    if ";" in value:
        return f"{name} {value!r} contains ';', which separates the parts of a prompt; write ',' instead"
    if name in ("topic", "emotion") and ":" in value:
        return f"{name} {value!r} contains ':', which ends the emotion in a prompt; leave it out"
    if name == "camera" and parse_camera(value) is None:
        return f"unknown camera position {value!r}; use {camera_help()}"
    return None


def topic_problem(topic: str) -> str | None:
    """The default template reads the topic as one word: why ``topic`` is not one, or None."""
    if len(topic.split()) > 1:
        return f"topic {topic!r} has spaces, but a prompt's topic is one word; join the words with '-'"
    return None


def check_fields(fields: dict[str, str], where: str) -> None:
    """Bad input naming the first field of a parsed prompt that breaks a rule (``where``: the
    prompt, for the message)."""
    for name, value in fields.items():
        problem = field_problem(name, value)
        if problem is not None:
            raise BadInput(f"{where}: field {name}: {problem}")
