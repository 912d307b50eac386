"""The process that renders stored email templates; `crm_core.notify.templates` starts and watches it.

It runs as a script (`python -I render_worker.py MEMORY_BYTES CPU_SECONDS [SITE_DIR…]`, the folders holding
jinja2 and markupsafe as the parent found them) and imports only jinja2 and the standard library: it caps
its own address space and CPU time first, says `ready`, then answers each JSON job on stdin with one JSON
line on stdout. A template that loops for ever or asks for gigabytes fails here,
where the parent can stop it, instead of in the run holding the send lock.
"""

from __future__ import annotations

import functools
import json
import resource
import sys
from collections.abc import Mapping
from typing import Any

MAX_OUTPUT_CHARS = 1_000_000  # far above any real email; counted while rendering, before joining


class OutputTooLarge(Exception):
    """The template produced more text than any email should hold."""


@functools.cache
def environment(html: bool) -> Any:
    from jinja2.sandbox import ImmutableSandboxedEnvironment  # after main() has set sys.path

    return ImmutableSandboxedEnvironment(autoescape=html, keep_trailing_newline=True)


def render_capped(template: str, context: Mapping[str, Any], *, html: bool) -> str:
    """Render in the sandbox, stopping as soon as the output passes `MAX_OUTPUT_CHARS`."""
    env = environment(html)
    parts: list[str] = []
    size = 0
    for chunk in env.from_string(template).generate(**context):
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise OutputTooLarge(f"output over {MAX_OUTPUT_CHARS:,} characters")
        parts.append(chunk)
    return "".join(parts)


def describe(exc: BaseException) -> str:
    """One short line: the type and the start of the message (a message may quote template data)."""
    message = " ".join(str(exc).split())
    if len(message) > 200:
        message = message[:200] + "…"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def answer(job: Mapping[str, Any]) -> dict[str, str]:
    try:
        return {"text": render_capped(str(job["template"]), dict(job["context"]), html=bool(job["html"]))}
    except Exception as exc:  # any failure of a stored template is that template's, never the run's
        return {"error": describe(exc)}


def main(argv: list[str]) -> None:
    memory_bytes, cpu_seconds = int(argv[1]), int(argv[2])
    sys.path[:0] = argv[3:]  # `-I` left out PYTHONPATH and the like: where jinja2 is, the parent says
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    sys.setrecursionlimit(2000)  # a recursive macro ends in RecursionError well before the C stack does
    environment(False), environment(True)  # jinja2 imported before `ready`: not on a render's clock
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        # ASCII JSON both ways: the locale of a bare `-I` interpreter does not matter.
        print(json.dumps(answer(json.loads(line))), flush=True)


if __name__ == "__main__":
    main(sys.argv)
