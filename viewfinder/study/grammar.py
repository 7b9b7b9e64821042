"""The structured prompt grammar of the seed study.

``{topic} {emotion}: {variant} ; {subject}; {camera}; {category}; {scene}; {style}``

Parsing keeps the exact spacing around each field so that ``format(parse(text)) == text``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from viewfinder.errors import BadInput

FIELDS: tuple[str, ...] = ("topic", "emotion", "variant", "subject", "camera", "category", "scene", "style")
EXPECTED_SHAPE = "{topic} {emotion}: {variant} ; {subject}; {camera}; {category}; {scene}; {style}"
_SEGMENT_FIELDS = ("subject", "camera", "category", "scene", "style")


@dataclass(frozen=True)
class PromptFields:
    """The eight named fields of a prompt, in grammar order (a parsed prompt, a grid cell)."""

    topic: str
    emotion: str
    variant: str
    subject: str
    camera: str
    category: str
    scene: str
    style: str

    def fields(self) -> dict[str, str]:
        """The eight named fields, in grammar order."""
        return {name: getattr(self, name) for name in FIELDS}


@dataclass(frozen=True)
class Prompt(PromptFields):
    """One structured prompt; ``spacing`` records the whitespace of the original text."""

    spacing: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def format(self) -> str:
        """The prompt text; the original text when this prompt was parsed."""
        return format_prompt(self)


def _fail(text: str, problem: str) -> BadInput:
    shown = text if len(text) <= 160 else text[:157] + "..."
    return BadInput(
        f"prompt {shown!r}: {problem}. Expected the shape: {EXPECTED_SHAPE} "
        "(six ';'-separated parts; the first is '{topic} {emotion}: {variant}')."
    )


def _split_ws(part: str) -> tuple[str, str, str]:
    """Split ``part`` into (leading whitespace, stripped text, trailing whitespace)."""
    stripped = part.strip()
    if not stripped:
        return part, "", ""
    start = part.index(stripped)
    return part[:start], stripped, part[start + len(stripped) :]


def parse_prompt(text: str) -> Prompt:
    """Parse ``text`` in the grammar; raise :class:`BadInput` naming the missing field."""
    parts = text.split(";")
    if len(parts) != 6:
        missing = ", ".join(("variant",) + _SEGMENT_FIELDS)
        raise _fail(
            text,
            f"found {len(parts)} ';'-separated part(s), need 6 "
            f"(the head with topic, emotion and variant, then subject, camera, category, scene, style; "
            f"fields in order: {missing})",
        )
    head = parts[0]
    if ":" not in head:
        raise _fail(text, "no ':' after the emotion in the first part (expected '{topic} {emotion}: {variant}')")
    before, variant_part = head.split(":", 1)
    lead, before_text, gap = _split_ws(before)
    if not before_text:
        raise _fail(text, "the topic and the emotion before ':' are empty")
    if not re.search(r"\s", before_text):
        raise _fail(text, "the emotion is missing: the text before ':' needs '{topic} {emotion}'")
    topic, separator, emotion = re.split(r"(\s+)", before_text, maxsplit=1)
    v_lead, variant, v_trail = _split_ws(variant_part)
    values = {"topic": topic, "emotion": emotion, "variant": variant}
    spacing = [lead, separator, gap, v_lead, v_trail]
    for name, part in zip(_SEGMENT_FIELDS, parts[1:], strict=False):
        s_lead, value, s_trail = _split_ws(part)
        values[name] = value
        spacing += [s_lead, s_trail]
    for name in FIELDS:
        if not values[name].strip():
            raise _fail(text, f"the field '{name}' is empty")
    return Prompt(**values, spacing=tuple(spacing))


_DEFAULT_SPACING: tuple[str, ...] = ("", " ", "", " ", " ", " ", "", " ", "", " ", "", " ", "", " ", "")


def format_prompt(prompt: Prompt) -> str:
    """Format ``prompt`` in the grammar; parsed prompts give back their exact text."""
    sp = prompt.spacing or _DEFAULT_SPACING
    head = f"{sp[0]}{prompt.topic}{sp[1]}{prompt.emotion}{sp[2]}:{sp[3]}{prompt.variant}{sp[4]}"
    segments = [head]
    for i, name in enumerate(_SEGMENT_FIELDS):
        segments.append(f"{sp[5 + 2 * i]}{getattr(prompt, name)}{sp[6 + 2 * i]}")
    return ";".join(segments)


def render_template(template: str, values: dict[str, str]) -> str:
    """Fill a study's prompt template (``str.format`` fields named as in :data:`FIELDS`)."""
    try:
        return template.format(**values)
    except KeyError as exc:
        raise BadInput(
            f"prompt template {template!r}: unknown field {exc.args[0]!r}; "
            f"use only {', '.join('{' + f + '}' for f in FIELDS)}"
        ) from None
