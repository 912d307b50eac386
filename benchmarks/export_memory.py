"""Peak memory of downloading one large export: the earlier way (Playwright's request API holds the body,
the check parses it whole) against ours (streamed to a private file, checked a record at a time).

The simulator runs in its own process and answers A668's missed-leads export with about `--mb` MB of
valid CSV. Each way runs in a fresh Python process; the numbers are the peak RSS (VmHWM) of that process
and of the Playwright driver (node), which also holds a body fetched through the request API.

    .venv/bin/python benchmarks/export_memory.py [--mb 100]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from download import DAY, start_simulator

STORE, BUCKET = "A668", "missed_leads"


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(line.split()[0]) for line in out.stdout.splitlines() if "node" in line]


async def one_way(way: str, portal: str, tms: str, home: str) -> dict[str, float | int | str]:
    from crm_core.exports import get_export
    from crm_core.fsutil import write_atomic
    from crm_core.json_logger import EventLogger
    from crm_core.portal.config import PortalConfig
    from crm_core.portal.download import download_all
    from crm_core.portal.files import check_csv
    from crm_core.portal.sandbox.app import DEMO_PASSWORD, DEMO_USERNAME
    from crm_core.portal.session import PortalSession, open_browser
    from crm_core.settings import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        crm_home=Path(home),
        portal_base_url=portal,
        portal_tms_url=tms,
        portal_username=DEMO_USERNAME,
        portal_password=DEMO_PASSWORD,
        portal_max_export_bytes=2**40,
    )
    logger = EventLogger("bench", "benchmark", stream=io.StringIO())
    spec = get_export(BUCKET)
    driver = 0.0
    if way == "ours":
        result = await download_all(settings, [STORE], DAY, logger, specs=[spec])
        export = result.stores[STORE].exports[BUCKET]
        rows, size = export.rows, export.path.stat().st_size if export.path else 0
        status = export.status
    else:  # the earlier way, as it was: the whole body in memory, parsed whole
        config = PortalConfig.from_settings(settings)
        async with open_browser(config) as browser:
            context = await browser.new_context()
            session = PortalSession(context, config, logger)
            await session.start()
            response = await context.request.get(tms + spec.url(STORE), timeout=600_000)
            body = await response.body()
            checked = check_csv(body, spec)
            path = config.downloads / spec.file_name(STORE)
            write_atomic(path, body)
            rows, size, status = checked.rows, len(body), "ok"
            driver = max((peak_rss_mb(p) for p in descendants(os.getpid())), default=0.0)
            await context.close()
    python_peak = peak_rss_mb(os.getpid())
    return {"way": way, "status": status, "rows": rows, "mb": size / 2**20, "python_peak_mb": python_peak,
            "driver_peak_mb": driver}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--way", choices=("baseline", "ours"), help=argparse.SUPPRESS)  # the child's job
    parser.add_argument("--portal", help=argparse.SUPPRESS)
    parser.add_argument("--tms", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:
        with tempfile.TemporaryDirectory() as home:
            print(json.dumps(asyncio.run(one_way(args.way, args.portal, args.tms, home))))
        return
    proc, portal, tms = start_simulator(0.0, faults=[f"big@{STORE}/{BUCKET}={args.mb * 2**20}"])
    try:
        lines = []
        for way in ("baseline", "ours"):
            child = subprocess.run(
                [sys.executable, __file__, "--way", way, "--portal", portal, "--tms", tms],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            lines.append(json.loads(child.stdout.strip().splitlines()[-1]))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"\nOne export of {args.mb} MB: peak resident memory (MB)\n")
    print("| way | export MB | rows | Python process | Playwright driver |")
    print("|---|---:|---:|---:|---:|")
    for r in lines:
        driver = f"{r['driver_peak_mb']:.0f}" if r["driver_peak_mb"] else "n/a (body not through it)"
        print(f"| {r['way']} | {r['mb']:.0f} | {r['rows']} | {r['python_peak_mb']:.0f} | {driver} |")


if __name__ == "__main__":
    main()
