#!/usr/bin/env bash
# Writes requirements.lock: the exact versions installed in .venv, i.e. the ones the test suite passed
# with. Run it after `bash scripts/setup.sh` and a green `bash scripts/test.sh` whenever pyproject.toml's
# dependencies change (a test fails while a declared dependency is missing from the lock).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# The versions the product was tested with (pip freeze of the tested .venv, the project itself left out)."
  echo "# scripts/setup.sh installs with it as constraints; regenerate with bash scripts/lock-deps.sh."
  # --all keeps setuptools (a dev dependency); pip itself is whatever setup.sh upgraded to.
  .venv/bin/python -m pip freeze --all --exclude-editable | grep -v -i -E '^(pip|tsv-crm)==' | LC_ALL=C sort -f
} > requirements.lock.tmp
mv requirements.lock.tmp requirements.lock
echo "requirements.lock: $(grep -c '==' requirements.lock) pinned packages"
