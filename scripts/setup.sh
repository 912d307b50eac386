#!/usr/bin/env bash
# Installs everything the product needs on a fresh Debian 12 machine with Python 3.11:
# system packages (Chromium for the portal, poppler for looking at PDFs), a virtualenv in .venv with the
# project and its dev tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v pdftoppm >/dev/null 2>&1 || need_apt+=(poppler-utils)
if ((${#need_apt[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "==> apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
echo "==> pip install -c requirements.lock -e '.[dev]'"
.venv/bin/python -m pip install -q --upgrade pip
# The versions the test suite passed with (requirements.lock, written by scripts/lock-deps.sh).
.venv/bin/python -m pip install -q -c requirements.lock -e '.[dev]'
echo "==> ready: $(.venv/bin/crm --help >/dev/null && echo 'crm installed in .venv/bin')"
