#!/usr/bin/env bash
# Set everything up, then start the web app (http://127.0.0.1:7860).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
exec python app.py "$@"
