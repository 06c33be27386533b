#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install the package with its test extras.
# Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
stamp=.venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  python -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored" || true
  # torch first and pinned, so that no other package pulls a multi-GB CUDA build.
  python -m pip install --quiet "torch==2.13.0" 2>&1 | grep -v "is ignored" || true
  # PYTHONWARNINGS reaches the build backend: no setuptools banner about editable installs.
  PYTHONWARNINGS=ignore python -m pip install --quiet -e ".[test]" 2>&1 | grep -v "is ignored" || true
  python -c "import torch, mediapipe, gradio, kornia, safetensors, pocketsphinx"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
