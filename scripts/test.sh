#!/usr/bin/env bash
# Set everything up, then check style and layering and run the whole test suite
# (unit, real-data and browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The browser tests drive Debian's Chromium (no browser download at test time); the lip-sync
# phonetics tests speak their sentences with espeak-ng.
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v espeak-ng >/dev/null 2>&1 || missing="$missing espeak-ng"
if [ -n "$missing" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing Debian packages for the tests:$missing..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >/dev/null 2>&1 \
    || echo "warning: could not install$missing; the tests that need them will be skipped"
fi
. .venv/bin/activate
echo "== ruff (lint + format)"
ruff check --quiet .
ruff format --check --quiet .
echo "== import layers"
lint-imports --no-cache | grep -E "KEPT|BROKEN|Contracts:"
echo "== tests"
python -m pytest "$@"
