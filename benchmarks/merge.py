"""Merge phase: crm_core.ingest.merge (polars) against the same merge written with pandas and with the
csv module.

Generates FILES per-store missed-leads exports × ROWS rows (the vendor's 15 columns and headers, some
quoted fields with commas, quotes and line breaks), where 10% of each file's rows repeat a key of the
previous store's file, so the de-dup (keep last) has work to do. Every method produces the full merged CSV
(canonical header, provenance columns source_file/source_line, keep-last de-dup on trimmed keys with the
store code upper-cased) and the three outputs must be byte-identical before any time is printed.
Timings include reading the files and writing the merged CSV; the pandas version takes its source_line
values from the same numpy record scan as ours (pandas reports no line numbers).

    .venv/bin/python benchmarks/merge.py [--files 50] [--rows 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

import pandas as pd

from crm_core.exports import MISSED_LEADS, ExportSpec, normalise_header
from crm_core.ingest.merge import SOURCE_FILE, SOURCE_LINE, _locate_records, merge_bucket

DAY = date(2025, 11, 17)
VENDOR_HEADER = [column.accepted_headers[0] for column in MISSED_LEADS.columns]
NAMES = ["Asha", "Ravi Kumar", "Lakshmi", "Devi", "Arjun", "Meena S", "Farhan", "Kavya"]
SLOTS = ["10:00 AM - 12:00 PM", "12:00 PM - 2:00 PM", "2:00 PM - 4:00 PM", "4:00 PM - 6:00 PM"]
SOURCES = ["Customer App", "Super Admin", "WhatsApp"]
NOTES = ["", "", "", "", "", "", "", "", "call before, not after 7", 'gate "B"\nsecond floor']


def generate(directory: Path, files: int, rows: int, seed: int = 7) -> dict[str, Path]:
    """Per-store files written with the csv module (the vendor quotes only where needed, CRLF)."""
    rng = random.Random(seed)
    paths: dict[str, Path] = {}
    previous_keys: list[tuple[str, str]] = []
    row_id = 0
    for index in range(files):
        store = f"TS{index + 1:03d}"
        keys: list[tuple[str, str]] = []
        path = directory / MISSED_LEADS.file_name(store)
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\r\n")
            writer.writerow(VENDOR_HEADER)
            for n in range(rows):
                row_id += 1
                if previous_keys and rng.random() < 0.10:
                    key_store, pickup_no = rng.choice(previous_keys)  # re-exported lead of another store
                else:
                    key_store, pickup_no = store, f"PK{index + 1:03d}{n:06d}"
                keys.append((key_store, pickup_no))
                writer.writerow(
                    [
                        str(row_id),
                        str(rng.randint(6_000_000_000, 9_999_999_999)),
                        pickup_no,
                        f"2025-11-{rng.randint(1, 17):02d}",
                        f"{rng.randint(8, 21):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
                        key_store,
                        f"Store {key_store}",
                        f"2025-11-{rng.randint(1, 19):02d}",
                        rng.choice(SLOTS),
                        rng.choice(NAMES),
                        rng.choice(NOTES),
                        rng.choice(SOURCES),
                        rng.choice(SOURCES),
                        rng.choice(("New", "Existing")),
                        rng.choice(("0", "1")),
                    ]
                )
        previous_keys = keys
        paths[store] = path
    return paths


def _norm_key(column: str, value: str) -> str:
    value = value.strip()
    return value.upper() if column == "store_code" else value


def merge_stdlib(spec: ExportSpec, files: Mapping[str, Path], out: Path) -> int:
    header_map = spec.header_map()
    names = spec.column_names
    key_positions = [names.index(k) for k in spec.keys]
    rows: list[list[str]] = []
    for store in sorted(files):
        path = files[store]
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            positions: dict[str, int] = {}
            for i, h in enumerate(header):
                column = header_map.get(normalise_header(h))
                if column is not None and column not in positions:
                    positions[column] = i
            take = [positions.get(c) for c in names]
            line = reader.line_num
            for record in reader:
                start, line = line + 1, reader.line_num
                if not record:
                    continue
                width = len(record)
                rows.append(
                    [record[i] if i is not None and i < width else "" for i in take] + [path.name, str(start)]
                )
    last: dict[tuple[str, ...], int] = {}
    for index, row in enumerate(rows):
        key = tuple(_norm_key(spec.keys[j], row[p]) for j, p in enumerate(key_positions))
        if all(key):
            last[key] = index
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([*names, SOURCE_FILE, SOURCE_LINE])
        kept = 0
        for index, row in enumerate(rows):
            key = tuple(_norm_key(spec.keys[j], row[p]) for j, p in enumerate(key_positions))
            if not all(key) or last[key] == index:
                writer.writerow(row)
                kept += 1
    return kept


def merge_pandas(spec: ExportSpec, files: Mapping[str, Path], out: Path) -> int:
    header_map = spec.header_map()
    frames = []
    for store in sorted(files):
        path = files[store]
        raw = path.read_bytes()
        df = pd.read_csv(
            io.BytesIO(raw), dtype=str, keep_default_na=False, encoding="utf-8-sig", encoding_errors="replace"
        )
        # pandas has no line numbers either: reuse our numpy record scan (the pure-pandas way, counting
        # "\n" in every column with .str.count, costs ~7 s more here and would flatter us).
        start = _locate_records(raw).start_lines
        renamed: dict[str, str] = {}
        for h in df.columns:
            column = header_map.get(normalise_header(str(h)))
            if column is not None and column not in renamed.values():
                renamed[str(h)] = column
        df = df[list(renamed)].rename(columns=renamed).reindex(columns=list(spec.column_names), fill_value="")
        df[SOURCE_FILE] = path.name
        df[SOURCE_LINE] = start
        frames.append(df)
    merged = pd.concat(frames, ignore_index=True)
    keys = pd.DataFrame({k: merged[k].str.strip() for k in spec.keys})
    if "store_code" in keys:
        keys["store_code"] = keys["store_code"].str.upper()
    has_key = (keys != "").all(axis=1)
    duplicated = keys.duplicated(keep="last")
    merged = merged[~has_key | ~duplicated]
    merged.to_csv(out, index=False, lineterminator="\n")
    return len(merged)


def merge_polars(spec: ExportSpec, files: Mapping[str, Path], out: Path) -> int:
    result = merge_bucket(spec, files, out.parent, DAY)
    assert result.merged_path is not None and not result.warnings, result.warnings
    result.merged_path.rename(out)
    return result.merged_rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per method; the best is reported")
    args = parser.parse_args()

    methods: dict[str, Callable[[ExportSpec, Mapping[str, Path], Path], int]] = {
        "crm_core.ingest.merge (polars)": merge_polars,
        "pandas": merge_pandas,
        "csv module": merge_stdlib,
    }
    with tempfile.TemporaryDirectory(prefix="bench-merge-") as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        files = generate(root / "in", args.files, args.rows)
        total = args.files * args.rows
        size = sum(p.stat().st_size for p in files.values())
        print(
            f"{args.files} files × {args.rows} rows = {total:,} records, {size / 1e6:.1f} MB;"
            f" best of {args.repeat} runs per method"
        )

        best: dict[str, float] = {}
        outputs: dict[str, bytes] = {}
        merged_rows: dict[str, int] = {}
        for label, method in methods.items():
            for run in range(args.repeat):
                out_dir = root / f"out-{len(best)}-{run}"
                out_dir.mkdir()
                out = out_dir / "merged.csv"
                started = time.perf_counter()
                merged_rows[label] = method(MISSED_LEADS, files, out)
                elapsed = time.perf_counter() - started
                best[label] = min(best.get(label, elapsed), elapsed)
                outputs[label] = out.read_bytes()
                out.unlink()

        reference = outputs["pandas"]
        for label, data in outputs.items():
            assert data == reference, f"{label} output differs from pandas"
        print(
            f"outputs byte-identical: {len(reference) / 1e6:.1f} MB, {merged_rows['pandas']:,} merged rows\n"
        )

        print(f"| {'method':<24} | {'seconds':>8} | {'rows/s':>11} | {'vs pandas':>9} |")
        print(f"| {'-' * 24} |{'-' * 9}:|{'-' * 12}:|{'-' * 10}:|")
        for label, seconds in best.items():
            ratio = best["pandas"] / seconds
            print(f"| {label:<24} | {seconds:>8.3f} | {total / seconds:>11,.0f} | {ratio:>8.2f}× |")


if __name__ == "__main__":
    main()
