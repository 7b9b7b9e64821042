"""The store boundary: SQLite and SQL live in viewfinder/store/ only; every other module goes
through RunStore's typed records."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "viewfinder"
SQL = re.compile(
    r"\b(SELECT\b.+\bFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|PRAGMA)\b"
)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings (prose may quote SQL)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def boundary_violations(source: str, name: str) -> list[str]:
    """What in one module's ``source`` crosses the store boundary."""
    tree = ast.parse(source, name)
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        line = f"{name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "sqlite3" for a in node.names):
            found.append(f"{line}: imports sqlite3")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlite3":
            found.append(f"{line}: imports from sqlite3")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if SQL.search(node.value):
                found.append(f"{line}: SQL in a string: {node.value[:60]!r}")
        elif isinstance(node, ast.Attribute) and node.attr in ("conn", "query", "execute", "executemany"):
            found.append(f"{line}: uses .{node.attr}")
    return found


def test_no_sqlite_or_sql_outside_the_store() -> None:
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if (PACKAGE / "store") in path.parents:
            continue
        violations += boundary_violations(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))
    assert violations == []


def test_the_check_finds_each_kind_of_leak() -> None:
    source = '''"""Docstrings may say SELECT * FROM images."""
import sqlite3
from sqlite3 import Row

def f(store):
    store.query("SELECT image_id FROM analysis_runs WHERE status='done'")
    store.conn.execute("UPDATE jobs SET state='failed'")
    return "INSERT OR IGNORE INTO prompts(id) VALUES (?)"
'''
    found = sorted(boundary_violations(source, "m.py"))
    assert [f.split(": ")[0] + ": " + f.split(": ")[1] for f in found] == [
        "m.py:2: imports sqlite3",
        "m.py:3: imports from sqlite3",
        "m.py:6: SQL in a string",
        "m.py:6: uses .query",
        "m.py:7: SQL in a string",
        "m.py:7: uses .conn",
        "m.py:7: uses .execute",
        "m.py:8: SQL in a string",
    ]
    assert not any("Docstrings" in f for f in found)


def test_the_check_passes_ordinary_prose() -> None:
    assert boundary_violations('x = "select the images you want; update from time to time"\n', "m.py") == []
