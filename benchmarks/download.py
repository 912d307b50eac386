"""Download phase wall time against the portal simulator: 1, 5 and 20 stores × concurrency 1, 2 and 4.

The simulator runs in its own process (so it does not share the GIL with the downloader). Every measured run
starts a browser and reuses the saved session of a warm-up run, so no run includes the login form.
`--latency S` makes every simulator response wait S seconds (a stand-in for the real portal's latency).

    .venv/bin/python benchmarks/download.py [--latency 0.2] [--stores 1,5,20] [--concurrency 1,2,4]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from crm_core.json_logger import EventLogger
from crm_core.portal.download import download_all
from crm_core.portal.sandbox.app import DEMO_PASSWORD, DEMO_USERNAME
from crm_core.settings import Settings

DAY = date(2025, 11, 19)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_simulator(
    latency: float, faults: list[str] | None = None, rows: int | None = None
) -> tuple[subprocess.Popen[bytes], str, str]:
    """`crm sandbox serve` in a process of its own (its CPU is not the measured process's), every
    response delayed by `latency` s, every export `rows` rows when given."""
    port, tms_port = free_port(), free_port()
    cmd = [
        sys.executable,
        "-m",
        "crm_core",
        "sandbox",
        "serve",
        "--port",
        str(port),
        "--tms-port",
        str(tms_port),
    ]
    cmd += ["--date", DAY.isoformat()]
    if latency:
        cmd += ["--fault", f"slow={latency}"]
    for fault in faults or []:
        cmd += ["--fault", fault]
    if rows is not None:
        cmd += ["--rows", str(rows)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", tms_port), timeout=0.2):
                return proc, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{tms_port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("simulator did not start")


async def measure(settings: Settings, stores: list[str]) -> tuple[float, int]:
    logger = EventLogger("bench", "benchmark", stream=io.StringIO())
    started = time.perf_counter()
    result = await download_all(settings, stores, DAY, logger)
    elapsed = time.perf_counter() - started
    if result.login_failed or any(s.status != "ok" for s in result.stores.values()):
        raise RuntimeError(f"benchmark run failed: {result.login_reason or result.counts()}")
    return elapsed, sum(rows for per in result.files.values() for _p, rows in per.values())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--stores", default="1,5,20")
    parser.add_argument("--concurrency", default="1,2,4")
    args = parser.parse_args()
    store_counts = [int(x) for x in args.stores.split(",")]
    levels = [int(x) for x in args.concurrency.split(",")]
    proc, portal, tms = start_simulator(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:

            def settings_for(concurrency: int) -> Settings:
                login = {"portal_username": DEMO_USERNAME, "portal_password": DEMO_PASSWORD}
                return Settings(  # type: ignore[call-arg]
                    _env_file=None,
                    crm_home=Path(tmp),
                    portal_base_url=portal,
                    portal_tms_url=tms,
                    portal_concurrency=concurrency,
                    **login,
                )

            await measure(settings_for(1), ["A001"])  # warm-up: logs in once, saves the session
            times: dict[tuple[int, int], float] = {}
            for n in store_counts:
                stores = [f"B{i:03d}" for i in range(1, n + 1)]
                for level in levels:
                    elapsed, rows = await measure(settings_for(level), stores)
                    times[(n, level)] = elapsed
                    print(
                        f"  {n:>3} stores × concurrency {level}: {elapsed:6.2f} s ({rows} rows)",
                        file=sys.stderr,
                    )
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    print(f"\nDownload phase wall time (s), simulator latency {args.latency:g} s per response\n")
    print("| stores | " + " | ".join(f"concurrency {c}" for c in levels) + " | " + " | ".join(
        f"speed-up ×{c}" for c in levels[1:]) + " | s/store at ×1 |")  # fmt: skip
    print("|---:|" + "---:|" * (len(levels) * 2))
    for n in store_counts:
        base = times[(n, levels[0])]
        cells = [f"{times[(n, c)]:.2f}" for c in levels]
        ratios = [f"{base / times[(n, c)]:.2f}" for c in levels[1:]]
        print(f"| {n} | " + " | ".join(cells + ratios) + f" | {base / n:.2f} |")
    first, last = store_counts[0], store_counts[-1]
    for c in levels:
        growth = times[(last, c)] / times[(first, c)]
        note = f"{last} stores take {growth:.1f}× the time of {first} (stores ×{last / first:g})"
        print(f"\nconcurrency {c}: {note}", end="")
    print()


if __name__ == "__main__":
    asyncio.run(main())
