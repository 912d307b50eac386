"""Email templates are data edited by operators: render them in a sandbox, in a separate process bounded in
time, memory and output size, and never let one crash, hang or exhaust a run.

The Jinja sandbox refuses attribute tricks, but not work: nested loops, `'x' * 300000000`, a huge format
width or a recursive macro run inside the sandbox for as long and as large as they like. Only a process the
parent can stop bounds them all, so every render goes to `render_worker` (address space and CPU capped
with rlimits, output counted while rendering) and is given `RENDER_TIMEOUT_S` of wall-clock time.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from crm_core.notify import render_worker

RENDER_TIMEOUT_S = 5.0  # per template part; real templates render in milliseconds
# The worker's whole address space (Python and jinja2 take ~30 MB). Small enough that `'x' * 300000000` or
# a 1e9 format width is refused at allocation, before any memory is filled (which takes seconds).
RENDER_MEMORY_BYTES = 256 * 1024 * 1024
WORKER_CPU_S = 120  # a backstop should the parent die while a render spins
WORKER_START_TIMEOUT_S = 60.0  # starting the interpreter on a busy machine
_WORKER = Path(render_worker.__file__)


class TemplateRenderError(Exception):
    """A template could not be rendered; the message names the template and the problem."""


@dataclass(frozen=True)
class RenderJob:
    template: str
    context: Mapping[str, Any]
    html: bool = False


@dataclass(frozen=True)
class Rendered:
    text: str | None
    error: str | None = None  # "ZeroDivisionError: division by zero", "took longer than 5 s", …


def _site_dirs() -> list[str]:
    """The folders jinja2 and markupsafe were imported from here, for the isolated worker."""
    import jinja2
    import markupsafe

    return list(dict.fromkeys(str(Path(m.__file__ or "").parent.parent) for m in (jinja2, markupsafe)))


class _Worker:
    """One render process; restarted after it had to be stopped."""

    def __init__(self, memory_bytes: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(_WORKER), str(memory_bytes), str(WORKER_CPU_S), *_site_dirs()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={"PATH": os.defpath},  # nothing of ours (no secrets) in the renderer's environment
            close_fds=True,
        )
        self._buffer = b""
        ready = self.read_line(time.monotonic() + WORKER_START_TIMEOUT_S)
        if ready is None or not json.loads(ready).get("ready"):
            self.stop()
            raise OSError("the template renderer did not start")

    def read_line(self, deadline: float) -> bytes | None:
        """The next answer line, or None when the deadline passed or the process ended."""
        stdout: IO[bytes] = self.proc.stdout  # type: ignore[assignment]
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([stdout], [], [], remaining)[0]:
                return None
            chunk = os.read(stdout.fileno(), 1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def ask(self, job: RenderJob, timeout_s: float) -> Rendered | None:
        """The answer to one job; None when the process had to be stopped (or died) meanwhile."""
        request = {"template": job.template, "context": dict(job.context), "html": job.html}
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(request, default=str).encode("ascii") + b"\n")
            self.proc.stdin.flush()
        except OSError:
            return None
        line = self.read_line(time.monotonic() + timeout_s)
        if line is None:
            return None
        answer = json.loads(line)
        return Rendered(answer.get("text"), answer.get("error"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


def render_all(
    jobs: Sequence[RenderJob],
    *,
    timeout_s: float = RENDER_TIMEOUT_S,
    memory_bytes: int = RENDER_MEMORY_BYTES,
) -> list[Rendered]:
    """Render every job in one worker process, each within `timeout_s`; never raises for a template.

    A template whose render had to be stopped is not tried again in this batch (the same template for the
    next store would only stop again) and fails at once with the same reason."""
    results: list[Rendered] = []
    stopped: dict[tuple[str, bool], str] = {}
    worker: _Worker | None = None
    try:
        for job in jobs:
            key = (job.template, job.html)
            if key in stopped:
                results.append(Rendered(None, stopped[key]))
                continue
            try:
                worker = worker or _Worker(memory_bytes)
            except OSError as exc:  # no renderer at all: every email of the batch gets the default
                results += [Rendered(None, f"the template renderer could not start: {exc}")] * (
                    len(jobs) - len(results)
                )
                break
            answer = worker.ask(job, timeout_s)
            if answer is None:
                code = worker.proc.poll()
                why = (
                    f"stopped after {timeout_s:g} s without finishing"
                    if code is None
                    else f"the renderer ended (exit code {code})"
                )
                worker.stop()
                worker = None
                stopped[key] = why
                answer = Rendered(None, why)
            results.append(answer)
    finally:
        if worker is not None:
            worker.stop()
    return results


def render(template: str, context: Mapping[str, Any], *, html: bool = False, name: str = "template") -> str:
    """One template rendered (bounded as above); `TemplateRenderError` names it and the problem."""
    (result,) = render_all([RenderJob(template, context, html)])
    if result.error is not None or result.text is None:
        raise TemplateRenderError(f"{name}: {result.error}")
    return result.text


def default_email(context: Mapping[str, Any]) -> tuple[str, str]:
    """The plain-text subject and body sent when an email's stored template fails: built without Jinja,
    from the same context, so it cannot fail itself."""

    def value(key: str) -> str:
        return str(context.get(key) or "")

    if context.get("store_code"):
        store = f"{value('store_name') or value('store_code')} ({value('store_code')})"
        return (
            f"{store} report {value('report_date')}",
            f"Hello,\n\nAttached is the report for {store}, {value('report_date')}.\n\n"
            "-- TSV Store Performance Reports\n",
        )
    return (
        f"[TSV Pipeline Run] {value('pipeline_name')} | {value('report_date')} | "
        f"{value('overall_status').upper()}",
        f"{value('summary_text')}\n\n(Env: {value('run_env')}, Run ID: {value('run_id')})\n",
    )
