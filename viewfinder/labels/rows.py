"""Rows of a CSV or JSON-lines file, each with its line number, and problems that name them."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from viewfinder.errors import BadInput
from viewfinder.study.load import read_text_file


@dataclass(frozen=True)
class Row:
    """One record of an input file: its values (text) and the line it starts on."""

    line: int
    values: dict[str, str]


@dataclass(frozen=True)
class Problem:
    """Why one row was skipped: file, line, field and the fix."""

    path: Path
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: field '{self.field}': {self.message}"


def read_rows(path: Path, required: tuple[str, ...]) -> Iterator[Row | Problem]:
    """The rows of ``path`` (JSON lines when it ends in .jsonl/.ndjson/.json, else CSV).

    A file that cannot be read, or a CSV header without a ``required`` column, is bad input
    (exit 2); a line that is not a JSON object is a :class:`Problem` and the rest are read."""
    text = read_text_file(path, "file", "it", "a UTF-8 CSV or JSON-lines file", encoding="utf-8-sig")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        yield from _json_rows(path, text)
    else:
        yield from _csv_rows(path, text, required)


def _json_rows(path: Path, text: str) -> Iterator[Row | Problem]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Problem(path, number, "(line)", f"not valid JSON ({exc.msg}); write one JSON object per line")
            continue
        if not isinstance(value, dict):
            yield Problem(path, number, "(line)", 'not a JSON object; write one {"image": ..., ...} object per line')
            continue
        yield Row(number, {str(k): "" if v is None else str(v) for k, v in value.items()})


def _csv_rows(path: Path, text: str, required: tuple[str, ...]) -> Iterator[Row | Problem]:
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise BadInput(f"{path}: the file is empty; give a header line with {', '.join(required)}") from None
    missing = [name for name in required if name not in header]
    if missing:
        raise BadInput(
            f"{path}:1: the header has no column {', '.join(repr(m) for m in missing)}; "
            f"add it (columns found: {', '.join(header) or 'none'})"
        )
    start = reader.line_num + 1
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            start = reader.line_num + 1
            continue
        if len(cells) > len(header):
            yield Problem(
                path,
                start,
                "(line)",
                f"{len(cells)} cells but the header names {len(header)} columns; quote cells that contain commas",
            )
        else:
            yield Row(start, dict(zip(header, (cell.strip() for cell in cells), strict=False)))
        start = reader.line_num + 1


def unknown_field(path: Path, row: Row, known: tuple[str, ...]) -> Problem | None:
    """A problem for the first column of ``row`` with a value that is not in ``known``."""
    for name, value in row.values.items():
        if name not in known and value.strip():
            return Problem(path, row.line, name, f"unknown column; use only {', '.join(known)}")
    return None
