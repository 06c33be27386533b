#!/usr/bin/env bash
# Set everything up, then run the whole test suite (unit, real-data and browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
python -m pytest "$@"
