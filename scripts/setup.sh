#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine: Python packages from
# requirements-dev.txt and Debian's Chromium for the browser test. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)          # browser test
command -v g++ >/dev/null 2>&1 || missing+=(g++)                    # riskparityportfolio builds
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
python3 -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
