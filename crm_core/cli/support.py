"""What every `crm` command shares: consoles, one-line failures, settings, running coroutines, and the
parsers of the options several commands take (dates, store lists).

Only typer and rich are imported here: settings (pydantic-settings, SQLAlchemy) load inside the helpers, so
`crm --help` never pays for them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from crm_core.settings import Settings

T = TypeVar("T")

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_MONTH = re.compile(r"^\d{4}-\d{2}$")

# The options several commands share, spelled once.
ReportDate = Annotated[str | None, typer.Option("--date", help="report date YYYY-MM-DD (default: T-1)")]
StoreList = Annotated[
    str | None, typer.Option("--stores", help="comma-separated store codes (default: ETL stores)")
]


def shown(value: object, *, multiline: bool = False) -> str:
    """A value from the database, the portal or a run (store and recipient names, findings, summaries) as
    it may go into a rich print or table: control characters removed, so it cannot move the cursor, clear
    the screen or fake a line, and rich markup escaped, so `[red]` or `[/]` in a name prints as typed.
    Every `crm` command prints such values through this one function."""
    from crm_core.text import without_control_characters

    lines = str(value).split("\n") if multiline else [str(value)]
    return "\n".join(escape(without_control_characters(line)) for line in lines)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error and exit (2 = configuration/prerequisites, 1 = run failed)."""
    console.print(f"[bold red]error:[/] {shown(message)}", highlight=False)
    raise typer.Exit(code)


def settings_or_exit(**overrides: Any) -> Settings:
    from crm_core.settings import ConfigError, load_settings

    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        fail(str(exc))


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine, turning configuration errors into exit 2 without a traceback."""
    from crm_core.settings import ConfigError

    try:
        return asyncio.run(coro)
    except ConfigError as exc:
        fail(str(exc))


def checked(check: Callable[..., T], *args: Any) -> T:
    """Call a check, turning a configuration error into exit 2 without a traceback."""
    from crm_core.settings import ConfigError

    try:
        return check(*args)
    except ConfigError as exc:
        fail(str(exc))


def parse_date(text: str | None, option: str = "--date") -> date | None:
    """A YYYY-MM-DD option value; anything else exits 2 naming the option."""
    if text is None:
        return None
    try:
        if not _ISO_DATE.match(text.strip()):
            raise ValueError(text)
        return date.fromisoformat(text.strip())
    except ValueError:
        fail(f"{option} {text!r} is not a date (YYYY-MM-DD)")


def parse_month(text: str | None, option: str = "--month") -> str | None:
    """A YYYY-MM option value (normalised); anything else exits 2 naming the option."""
    if text is None:
        return None
    try:
        if not _ISO_MONTH.match(text.strip()):
            raise ValueError(text)
        return date.fromisoformat(f"{text.strip()}-01").strftime("%Y-%m")
    except ValueError:
        fail(f"{option} {text!r} is not a month (YYYY-MM)")


def parse_stores(text: str | None, option: str = "--stores") -> list[str] | None:
    """Comma-separated store codes, trimmed and upper-cased; None when none are given."""
    from crm_core.db.stores import parse_store_codes
    from crm_core.settings import ConfigError
    from crm_core.store_codes import normalise_store_code

    try:
        codes = parse_store_codes(text)
        return [normalise_store_code(code) for code in codes] if codes else None
    except ConfigError as exc:
        fail(f"{option}: {exc}")
