"""``viewfinder status DIR``: jobs per state, images, cost and failures grouped by reason, read only."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.table import Table
from rich.text import Text

from viewfinder.cli_options import out
from viewfinder.providers.fixes import fix_for, short
from viewfinder.store import RunStore


def print_status(run_dir: Path, as_json: bool) -> None:
    """Print the run's status as a table, or as one JSON object with ``as_json`` (no lock taken)."""
    with RunStore(run_dir, readonly=True) as store:
        info = store.status()
    for group in info["failures"] + info["missing"]:
        group["fix"] = fix_for(group["reason"])
    if as_json:
        sys.stdout.write(json.dumps(info) + "\n")
        return
    table = Table(title=f"{info['run_dir']} ({info['study']})", show_header=False)
    for state, count in info["jobs"].items():
        table.add_row(f"jobs {state}", str(count))
    table.add_row("images", str(info["images"]))
    for kind, usd in info["cost_usd"].items():
        table.add_row(f"cost {kind}", f"${usd:.4f}")
    for group in info["failures"]:
        example = f"job {group['example'][:12]}" if group["stage"] == "generate" else f"image {group['example']}"
        line = f"{group['count']} × {short(group['reason'])} ({example}): {group['fix']}"
        table.add_row(Text(f"failed: {group['source']}"), Text(line))  # reasons are data, never markup
    for group in info["missing"]:
        line = f"{group['count']} × {short(group['reason'])} (image {group['example']}): {group['fix']}"
        table.add_row(Text(f"not measured: {group['source']}"), Text(line))
    out.print(table)
