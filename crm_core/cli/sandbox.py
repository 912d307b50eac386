"""`crm sandbox serve`: the portal simulator, for development, tests and demos."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from crm_core.cli.support import console, fail, out, parse_date

app = typer.Typer(help="The portal simulator for development, tests and demos.", no_args_is_help=True)


@app.command("serve")
def serve(
    host: Annotated[
        str,
        typer.Option(
            help="name or address to listen on, also the host of the simulator's links: other machines "
            "(containers) must reach it by this name"
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="portal origin port (0 = any free port)")] = 8801,
    tms_port: Annotated[int, typer.Option("--tms-port", help="TMS origin port (0 = any free port)")] = 8802,
    seed: Annotated[int, typer.Option(help="seed of the synthetic data")] = 0,
    rows: Annotated[
        int | None, typer.Option(help="rows in every CSV export (load tests; default: each store's own)")
    ] = None,
    date_: Annotated[
        str | None, typer.Option("--date", help="dashboard date (default: yesterday, Asia/Kolkata)")
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help=(
                "NAME with optional @STORE /ENDPOINT =VALUE #TIMES, e.g. status@A668/missed_leads=429#2; "
                "repeatable; --fault list shows all"
            ),
        ),
    ] = None,
) -> None:
    """Run the portal simulator (portal + TMS origins, on 127.0.0.1 unless --host) until interrupted."""
    from crm_core.portal.sandbox.faults import FAULTS, FaultSpecError, parse_fault

    faults = tuple(fault or ())
    if "list" in faults:
        for name, text in FAULTS.items():
            out.print(f"{name:16} {text}")
        return
    try:
        for spec in faults:
            parse_fault(spec)
    except FaultSpecError as exc:
        fail(str(exc))
    dashboard_date = parse_date(date_)

    from crm_core.portal.sandbox.app import CONTROL_HEADER, DEMO_PASSWORD, DEMO_USERNAME
    from crm_core.portal.sandbox.server import SandboxConfig, SandboxServer

    try:
        server = SandboxServer(
            SandboxConfig(
                host=host,
                port=port,
                tms_port=tms_port,
                seed=seed,
                rows=rows,
                dashboard_date=dashboard_date,
                faults=faults,
            )
        )
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}/{tms_port}: {exc.strerror}")
    out.print(f"portal  {server.portal_origin}\nTMS     {server.tms_origin}")
    out.print(f"login   {DEMO_USERNAME} / {DEMO_PASSWORD}   (dashboard date {server.state.dashboard_date})")
    out.print("\n# for the downloader:")
    out.print(f"export PORTAL_BASE_URL={server.portal_origin} PORTAL_TMS_URL={server.tms_origin}")
    out.print(f"export PORTAL_USERNAME={DEMO_USERNAME} PORTAL_PASSWORD={DEMO_PASSWORD}")
    out.print(
        f"\nadmin (header {CONTROL_HEADER}: {server.state.control_token}):\n"
        f"  POST {server.portal_origin}/__sandbox/faults "
        '{"spec": "status@A668/missed_leads=429#1"}, POST /__sandbox/expire?scope=tms|all, '
        'POST /__sandbox/config {"date": "YYYY-MM-DD"}, GET /__sandbox/state'
    )
    try:
        asyncio.run(server.serve())
    except KeyboardInterrupt:
        console.print("simulator stopped")
