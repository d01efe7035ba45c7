#!/usr/bin/env bash
# The README's test command: set up a fresh machine, lint, then run every test
# (unit, AppTest and the Playwright browser test against Debian's Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 -m ruff check .
python3 -m pytest "$@"
