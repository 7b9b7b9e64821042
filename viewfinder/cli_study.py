"""``viewfinder expand`` and ``viewfinder prompt``: the prompt grid of a study, one prompt's fields."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from viewfinder.cli_options import out
from viewfinder.study import expand_prompts, load_study, parse_prompt
from viewfinder.study.rules import check_fields


def print_grid(study: Path, format: str) -> None:
    """The study's prompts as a table or as JSON lines (``format``: table or jsonl)."""
    if format not in {"table", "jsonl"}:
        raise typer.BadParameter("use table or jsonl", param_hint="--format")
    prompts = expand_prompts(load_study(study))
    if format == "jsonl":
        for prompt in prompts:
            sys.stdout.write(json.dumps(prompt.as_dict(), ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{len(prompts)} prompts")
    for column in ("#", "emotion", "variant", "camera", "style", "text"):
        table.add_column(column, overflow="fold")
    for prompt in prompts:
        table.add_row(
            str(prompt.position + 1), prompt.emotion, prompt.variant, prompt.camera, prompt.style, prompt.text
        )
    out.print(table)


def print_prompt(text: str, as_json: bool) -> None:
    """Parse ``text`` in the grammar, check its fields as the study loader does, and print them."""

    fields = parse_prompt(text).fields()
    check_fields(fields, f"prompt {text!r}")
    if as_json:
        sys.stdout.write(json.dumps(fields, ensure_ascii=False) + "\n")
        return
    table = Table(show_header=False)
    for key, value in fields.items():
        table.add_row(key, value)
    out.print(table)
