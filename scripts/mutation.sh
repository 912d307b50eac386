#!/usr/bin/env bash
# Mutation testing of the rule modules with mutmut (configuration: [tool.mutmut] in pyproject.toml): each
# mutant of validation, merge, audit, KPI bands and health, period arithmetic, notification plans, the send
# log of notification emails and settings is run against the tests listed there that reach the mutated
# function.
# Not part of CI: it takes tens of minutes. Arguments are passed to `mutmut run` (e.g. "crm_core.periods*"
# to mutate one module). Prints the summary and the surviving mutants (`mutmut show NAME` shows one).
set -euo pipefail
cd "$(dirname "$0")/.."
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 HYPOTHESIS_PROFILE=ci
.venv/bin/mutmut run "$@" || true  # mutmut exits non-zero when mutants survive; the summary says which
.venv/bin/mutmut results --all true > mutants/results.txt
echo "==> mutants per module and outcome"
sed -E 's/^ *([^ ]+)\.x[^:]*: (.*)$/\1 \2/' mutants/results.txt | sort | uniq -c
echo "==> surviving mutants"
grep -E ": survived$" mutants/results.txt || echo "none"
