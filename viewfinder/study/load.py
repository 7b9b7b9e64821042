"""Load a study file and turn every problem into one message naming file, line, field and fix."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from viewfinder.errors import BadInput
from viewfinder.study.schema import Study


def load_study(path: str | Path) -> Study:
    """Read and validate the TOML study file at ``path``."""
    path = Path(path)
    return parse_study(read_text_file(path, "study file", "the study file", "a UTF-8 TOML file"), path)


def read_text_file(path: Path, what: str, it: str, wanted: str, encoding: str = "utf-8") -> str:
    """The text of ``path``; a missing or unreadable file is bad input naming the file and the fix
    (``what`` names it in "not found", ``it`` in "cannot read", ``wanted`` says what to give)."""
    try:
        return path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise BadInput(f"{path}: {what} not found; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read {it} ({exc}); give {wanted}") from None


def parse_study(text: str, path: str | Path = "<study>") -> Study:
    """Validate study TOML ``text``; ``path`` is only used in messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line = re.search(r"line (\d+)", message)
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise BadInput(f"{where}: TOML syntax error: {message}. Fix the TOML syntax at that line.") from None
    try:
        return Study.model_validate(data)
    except ValidationError as exc:
        raise BadInput(_describe(exc, text, path)) from None


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _fix(error: ErrorDetails, model: type[BaseModel] | None) -> str:
    kind = error["type"]
    loc = error["loc"]
    name = loc[-1] if loc else ""
    if kind == "missing":
        return f"add the key '{name}'"
    if kind == "extra_forbidden":
        known = f" (known keys: {', '.join(model.model_fields)})" if model else ""
        return f"unknown key '{name}': remove it or correct its spelling{known}"
    if kind == "too_short":
        return "the list is empty: give at least one entry"
    if kind == "string_too_short":
        return "the text is empty: give a value"
    if kind in {
        "int_type",
        "int_parsing",
        "float_type",
        "float_parsing",
        "bool_type",
        "bool_parsing",
        "string_type",
        "list_type",
        "dict_type",
        "model_type",
    }:
        expected = kind.split("_")[0].replace("model", "table").replace("dict", "table")
        return f"expected a {expected}, got {type(error.get('input')).__name__} {error.get('input')!r}"
    message = error["msg"]
    return message.removeprefix("Value error, ")


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model whose field list explains an unknown key at ``loc``."""
    model: Any = Study
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return model


def _table_header(line: str) -> list[str] | None:
    """The dotted name of a ``[table]`` header line as its parts (quoted keys unquoted)."""
    match = re.match(r"^\s*\[(?!\[)(.*)\]\s*(#.*)?$", line)
    if not match:
        return None
    return [a or b or c for a, b, c in re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.\s"\']+)', match.group(1))]


def _line_of(loc: tuple[Any, ...], text: str) -> int | None:
    """Best-effort line number (1-based) of the field at ``loc`` in the TOML ``text``."""
    lines = text.splitlines()
    start, end = 0, len(lines)
    prefix: list[str] = []
    i = 0
    parts = list(loc)
    while i < len(parts):
        part = parts[i]
        nxt = parts[i + 1] if i + 1 < len(parts) else None
        if isinstance(part, str) and isinstance(nxt, int):
            header = re.compile(r"^\s*\[\[\s*" + re.escape(".".join(prefix + [part])) + r"\s*\]\]")
            hits = [n for n in range(start, end) if header.match(lines[n])]
            if len(hits) > nxt:
                start = hits[nxt]
                later = [n for n in range(start + 1, end) if header.match(lines[n])]
                end = later[0] if later else end
                prefix.append(part)
                i += 2
                continue
            key = re.compile(r"^\s*" + re.escape(part) + r"\s*=")
            found = next((n for n in range(start, end) if key.match(lines[n])), None)
            return None if found is None else found + 1
        if isinstance(part, str):
            wanted = prefix + [part]
            hit = next((n for n in range(start, end) if _table_header(lines[n]) == wanted), None)
            deeper = any((_table_header(lines[n]) or [])[: len(wanted)] == wanted for n in range(start, end))
            if nxt is not None and (hit is not None or deeper):
                start = start if hit is None else hit
                prefix.append(part)
                i += 1
                continue
            key = re.compile(r"^\s*[\"']?" + re.escape(part) + r"[\"']?\s*=")
            found = next((n for n in range(start, end) if key.match(lines[n])), None)
            if found is not None:
                return found + 1
            if hit is not None:
                return hit + 1
            return start + 1 if prefix else None
        i += 1
    return start + 1 if parts else None


def _describe(exc: ValidationError, text: str, path: str | Path) -> str:
    problems = []
    for error in exc.errors():
        loc = tuple(error.get("ctx", {}).get("loc", error["loc"]))
        if "index" in error.get("ctx", {}):
            loc += (error["ctx"]["index"],)
        line = _line_of(loc, text) if loc else None
        where = f"{path}:{line}" if line else str(path)
        problems.append(f"{where}: field {_field_path(loc)}: {_fix(error, _model_at(loc))}")
    head = problems[0]
    if len(problems) > 1:
        head += "\n" + "\n".join("  also " + p for p in problems[1:])
    return head
