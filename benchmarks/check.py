"""Download check of one export: the csv module's record-by-record walk (the baseline, still used for an
export with quotes or NUL bytes) against the line walk of a quote-free export, on the simulator's exports of
`--rows` rows, in one run. Both must agree on every export before any time is printed.

    .venv/bin/python benchmarks/check.py [--rows 5000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import sys
import timeit
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crm_core.exports import ExportSpec, enabled_exports
from crm_core.portal import files
from crm_core.portal.sandbox import app, data

DAY = date(2025, 11, 19)


def csv_walk(raw: bytes, spec: ExportSpec) -> files.CheckedCsv:
    """The same check with the line walk switched off."""
    plain, files._walk_plain = files._walk_plain, lambda *_args: None
    try:
        return files.check_csv(raw, spec)
    finally:
        files._walk_plain = plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    day = data.store_day("B100", DAY)
    print("| export | bytes | csv module ms | line walk ms | ratio |\n| --- | ---: | ---: | ---: | ---: |")
    for spec in enabled_exports():
        raw = app._csv_body(spec.bucket, day, lambda _name: None, args.rows)
        if csv_walk(raw, spec) != files.check_csv(raw, spec):
            raise SystemExit(f"{spec.bucket}: the two walks disagree")
        times = {}
        for name, check in (("csv", csv_walk), ("line", files.check_csv)):
            runs = timeit.repeat(lambda: check(raw, spec), number=3, repeat=args.repeat)  # noqa: B023
            times[name] = min(runs) / 3 * 1000
        ratio = times["csv"] / times["line"]
        print(f"| {spec.bucket} | {len(raw):,} | {times['csv']:.1f} | {times['line']:.1f} | {ratio:.1f}× |")
    print(f"\nload average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
