#!/usr/bin/env bash
# Checks the locked dependency versions (requirements.lock, what the product was tested with) against a
# vulnerability database with pip-audit. Needs network access to that database: PyPI's JSON advisory API
# by default, or OSV with `--osv` (pip-audit's `-s osv`). Not part of CI: the result depends on a service
# outside the product and changes as advisories are published.
#
#   bash scripts/audit-deps.sh          # the lock
#   bash scripts/audit-deps.sh --venv   # what is installed in .venv instead
#   bash scripts/audit-deps.sh --osv    # ask OSV instead of PyPI (combinable with --venv)
#
# Exit 0: no known vulnerability; 1: vulnerabilities found (listed); 2: the audit could not run.
# pip-audit is installed into its own .venv-audit, so the product's .venv keeps exactly the locked set.
set -uo pipefail
cd "$(dirname "$0")/.."

target=lock
service=pypi
for arg in "$@"; do
  case "$arg" in
    --venv) target=venv ;;
    --osv) service=osv ;;
    *) echo "usage: bash scripts/audit-deps.sh [--venv] [--osv]" >&2; exit 2 ;;
  esac
done

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv-audit/bin/pip-audit ]; then
  echo "==> installing pip-audit into .venv-audit"
  if ! { "$PYTHON" -m venv .venv-audit && .venv-audit/bin/python -m pip install -q pip-audit; }; then
    echo "error: could not install pip-audit (no access to the package index?)" >&2
    exit 2
  fi
fi

if [ "$target" = venv ]; then
  [ -x .venv/bin/python ] || { echo "error: no .venv: run bash scripts/setup.sh first" >&2; exit 2; }
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  what="the packages installed in .venv"
  args=(--path "$site")
else
  what="requirements.lock"
  # Every version is pinned: no resolving, no pip run, only the vulnerability service is asked.
  args=(--requirement requirements.lock --no-deps --disable-pip)
fi

echo "==> pip-audit of $what against the $service vulnerability database"
report=$(mktemp)
log=$(mktemp)
trap 'rm -f "$report" "$log"' EXIT
.venv-audit/bin/pip-audit --vulnerability-service "$service" --progress-spinner off --format json \
  --output "$report" "${args[@]}" 2>"$log"
code=$?
if [ ! -s "$report" ]; then
  cat "$log" >&2
  echo "error: pip-audit could not run (exit $code); if the lines above mention the network, run this on" \
    "a machine with access to the $service vulnerability database" >&2
  exit 2
fi
# A package the database does not know was not checked at all: that is not "no vulnerabilities".
.venv-audit/bin/python - "$report" "$what" "$service" <<'PY'
import json
import sys

report, what, service = sys.argv[1], sys.argv[2], sys.argv[3]
dependencies = json.load(open(report))["dependencies"]
skipped = [d for d in dependencies if d.get("skip_reason")]
found = [(d, v) for d in dependencies for v in d.get("vulns", [])]
for dependency, vuln in found:
    fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
    aliases = ", ".join(vuln.get("aliases") or [])
    print(f"{dependency['name']} {dependency['version']}: {vuln['id']} ({aliases}) fixed in: {fixed}")
if found:
    print(f"==> {len(found)} known vulnerabilities in {what}: upgrade, re-test, bash scripts/lock-deps.sh")
if len(skipped) == len(dependencies):
    print(
        f"error: the {service} vulnerability database could not be used (none of the {len(dependencies)} "
        "packages could be looked up: no access to it from here?). Run this on a machine that reaches it, "
        "or try the other database (--osv).",
        file=sys.stderr,
    )
    sys.exit(2)
if skipped:
    names = ", ".join(f"{d['name']} {d['version']}" for d in skipped)
    print(f"warning: {len(skipped)} packages could not be checked: {names}", file=sys.stderr)
if found:
    sys.exit(1)
if skipped:
    sys.exit(2)
print(f"==> no known vulnerabilities in the {len(dependencies)} packages of {what}")
PY
