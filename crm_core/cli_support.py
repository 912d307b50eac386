"""Helpers shared by every `crm` sub-command: consoles, one-line failures, settings, running coroutines."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from crm_core.settings import ConfigError, Settings, load_settings

T = TypeVar("T")

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error and exit (2 = configuration/prerequisites, 1 = run failed)."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        fail(str(exc))


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine, turning configuration errors into exit 2 without a traceback."""
    try:
        return asyncio.run(coro)
    except ConfigError as exc:
        fail(str(exc))
