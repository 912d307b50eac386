"""Where PDFs are drawn: worker processes, one per core, so that stores render side by side.

PDF layout is pure-Python CPU work, so threads would take turns on one core. The flow's process keeps the
database work (loading each store's data, writing its `documents` row) and hands each store's renderer and
data to a worker. Workers are forked from a fork server that has already imported the report modules and
parsed the fonts: a fresh, single-threaded process (nothing of the flow's event loop, threads or database
connections), cheap to start for every run.

A render that raises fails its store only. A worker that dies (killed, out of memory, crashed) takes every
render it had in flight with it, without saying which one killed it: each of those is drawn again alone in a
fresh process, so only a render that kills its process again fails, and the others still get their PDF.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

# Imported once by the fork server; every worker inherits what it loaded.
PRELOAD = "crm_core.reports.render_worker"


class RenderProcessDied(RuntimeError):
    """The process drawing a PDF ended without a result, twice (the second time alone)."""


@dataclass
class RenderJob:
    """One store's PDF, started (`future`) and able to start again elsewhere."""

    render: Callable[[Any, Path], object]
    context: Any
    path: Path
    future: asyncio.Future[int]
    pool: ProcessPoolExecutor | None


def draw(render: Callable[[Any, Path], object], context: Any, path: Path) -> int:
    """Render the PDF and return the size of the file written (where it was drawn, before the next)."""
    render(context, path)
    return path.stat().st_size


def _process_context() -> BaseContext:
    context = multiprocessing.get_context("forkserver")
    # Takes effect when the fork server starts (the first pool of this process); later calls change nothing.
    context.set_forkserver_preload([PRELOAD])
    return context


class RenderPool:
    """Draws PDFs in `workers` processes; with one worker, in a thread of this process (no pool)."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.workers = workers
        self._pool: asyncio.Future[ProcessPoolExecutor] | None = None

    @property
    def in_process(self) -> bool:
        return self.workers == 1

    async def __aenter__(self) -> RenderPool:
        if not self.in_process:
            self._starting()  # the workers start while the first stores' data loads
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._pool is None:
            return
        starting, self._pool = self._pool, None
        try:
            pool = await starting
        except Exception:  # it never started: nothing to stop (every render it was given failed with it)
            return
        # Renders still queued (the run was cancelled) are dropped; a running one finishes its file.
        await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    async def submit(self, render: Callable[[Any, Path], object], context: Any, path: Path) -> RenderJob:
        """Start drawing `render(context, path)`; `wait` gives its result."""
        if self.in_process:
            thread = asyncio.ensure_future(asyncio.to_thread(draw, render, context, path))
            return RenderJob(render, context, path, thread, None)
        pool = await self._starting()
        try:
            future = pool.submit(draw, render, context, path)
        except BrokenProcessPool:  # broke since the last render was handed to it
            self._discard(pool)
            pool = await self._starting()
            future = pool.submit(draw, render, context, path)
        return RenderJob(render, context, path, asyncio.wrap_future(future), pool)

    async def wait(self, job: RenderJob) -> int:
        """The size of the file written; the render's exception if it raised, RenderProcessDied if it
        kills its process."""
        try:
            return await job.future
        except BrokenProcessPool:
            if job.pool is not None:
                self._discard(job.pool)
            return await self._alone(job)

    def _starting(self) -> asyncio.Future[ProcessPoolExecutor]:
        if self._pool is None:
            # In a thread: the fork server's first start imports the report modules, which would otherwise
            # hold up the event loop.
            self._pool = asyncio.ensure_future(asyncio.to_thread(_start_pool, self.workers))
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Forget a broken pool (the next render starts a new one) and let its processes go."""
        if self._pool is not None and _started(self._pool) is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    async def _alone(self, job: RenderJob) -> int:
        pool = await asyncio.to_thread(_start_pool, 1)
        try:
            return await asyncio.wrap_future(pool.submit(draw, job.render, job.context, job.path))
        except BrokenProcessPool:
            raise RenderProcessDied("the process drawing this PDF ended abruptly") from None
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


def _started(starting: asyncio.Future[ProcessPoolExecutor]) -> ProcessPoolExecutor | None:
    if starting.done() and not starting.cancelled() and starting.exception() is None:
        return starting.result()
    return None


def _start_pool(workers: int) -> ProcessPoolExecutor:
    pool = ProcessPoolExecutor(workers, mp_context=_process_context())
    pool.submit(int).result()  # a first worker running: the fork server is up, the rest fork quickly
    return pool
