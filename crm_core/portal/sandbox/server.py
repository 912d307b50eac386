"""Serving the simulator: both origins from one uvicorn event loop, in a thread (tests) or the foreground."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass
from datetime import date
from types import TracebackType

import uvicorn

from crm_core.portal.sandbox.app import SandboxState, portal_app, tms_app
from crm_core.portal.sandbox.faults import FaultBoard, parse_fault


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@dataclass
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = any free port
    tms_port: int = 0
    seed: int = 0
    rows: int | None = None  # rows per CSV export (load tests); None: each store's own rows
    dashboard_date: date | None = None
    faults: tuple[str, ...] = ()


class SandboxServer:
    """Both origins on loopback. `with SandboxServer() as sim:` runs them in a background thread."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._sockets = (
            _bind(self.config.host, self.config.port),
            _bind(self.config.host, self.config.tms_port),
        )
        portal_port = self._sockets[0].getsockname()[1]
        tms_port = self._sockets[1].getsockname()[1]
        self.state = SandboxState(
            portal_origin=f"http://{self.config.host}:{portal_port}",
            tms_origin=f"http://{self.config.host}:{tms_port}",
            seed=self.config.seed,
            rows=self.config.rows,
            faults=FaultBoard([parse_fault(spec) for spec in self.config.faults]),
        )
        if self.config.dashboard_date is not None:
            self.state.dashboard_date = self.config.dashboard_date
        self._servers = [
            uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
            for app in (portal_app(self.state), tms_app(self.state))
        ]
        self._thread: threading.Thread | None = None

    @property
    def portal_origin(self) -> str:
        return self.state.portal_origin

    @property
    def tms_origin(self) -> str:
        return self.state.tms_origin

    async def serve(self) -> None:
        for server in self._servers:
            server.config.setup_event_loop = lambda: None  # type: ignore[method-assign]
        await asyncio.gather(
            *(server.serve(sockets=[sock]) for server, sock in zip(self._servers, self._sockets, strict=True))
        )

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=lambda: asyncio.run(self.serve()), daemon=True, name="sandbox")
        self._thread.start()
        while not all(server.started for server in self._servers):
            if not self._thread.is_alive():
                raise RuntimeError("portal simulator failed to start")
            threading.Event().wait(0.02)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        for sock in self._sockets:
            sock.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
