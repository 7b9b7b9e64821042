"""The suite's own package: a top-level ``tests`` package a dependency's wheel installs (ppi-python
ships one) must not shadow this repository's tests/ (``tests.servers`` and the helper modules)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_foreign_tests_package_does_not_shadow_ours(tmp_path: Path) -> None:
    foreign = tmp_path / "site" / "tests"
    foreign.mkdir(parents=True)
    (foreign / "__init__.py").write_text("FOREIGN = True\n", encoding="utf-8")
    (foreign / "test_ppi.py").write_text("", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(ROOT)])}
    probe = "import tests, tests.servers; print(tests.__file__); print(tests.servers.__file__)"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    package, servers = done.stdout.split()
    assert Path(package) == ROOT / "tests" / "__init__.py"
    assert Path(servers).parent == ROOT / "tests" / "servers"
