#!/usr/bin/env bash
# Create .venv with viewfinder and every extra (CPU torch pinned to 2.13.0).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q -c constraints.txt "torch==2.13.0"
.venv/bin/python -m pip install -q -c constraints.txt -e ".[local,faces,export,test,dev]"
# torchvision (CUDA-only builds here) breaks transformers' CLIP import: make sure it is absent.
.venv/bin/python -m pip uninstall -y -q torchvision 2>/dev/null || true
