#!/usr/bin/env bash
# First run on embedded defaults (SQLite under ./var): migrate, add the three demo stores and a demo
# recipient if the database has none, then check that everything the daily job needs is in place.
set -euo pipefail
cd "$(dirname "$0")/.."
crm=.venv/bin/crm

$crm db upgrade
if $crm stores list | grep -q "no stores yet"; then
  $crm stores add A668 --name "Uttam Nagar, Delhi" --report
  $crm stores add A817 --name "Kirti Nagar, Delhi" --report
  $crm stores add A526 --name "Tilak Nagar, Delhi"
fi
$crm recipients add run_summary owner@example.com >/dev/null
for profile in store_daily_reports store_weekly_reports store_monthly_reports; do
  $crm recipients add "$profile" stores@example.com >/dev/null
done
$crm stores list
$crm db check
