"""The `crm` app as a whole: every command group registered, every help text renders."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

import crm_core
from crm_core.cli import app

runner = CliRunner()


def test_every_command_has_a_working_help() -> None:
    """Help texts are rendered by rich: a stray `[...]` in one of them crashes `--help`."""
    import typer.main

    def paths(group: object, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        found = [prefix]
        for name, command in getattr(group, "commands", {}).items():
            found += paths(command, (*prefix, name))
        return found

    commands = paths(typer.main.get_command(app), ())
    assert len(commands) > 20
    for path in commands:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, (path, result.output)


HEAVY = ("prefect", "playwright", "polars", "numpy", "reportlab", "asyncpg", "alembic", "flows", "tasks")


def loaded_after(code: str) -> list[str]:
    """The heavy top-level packages a fresh interpreter has imported after running `code`."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(result.stdout.split())
    return [name for name in HEAVY if name in loaded]


def test_help_loads_no_heavy_package() -> None:
    """`crm --help` stays fast: the command modules import their domain code inside the commands."""
    code = (
        "from crm_core.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "try:\n    app(['run', 'daily', '--help'])\nexcept SystemExit:\n    pass"
    )
    assert loaded_after(code) == []


def test_stores_list_loads_only_the_database_layer(tmp_path: Path) -> None:
    code = (
        "import os\n"
        f"os.environ.update(CRM_HOME={str(tmp_path)!r}, DATABASE_URL='sqlite+aiosqlite:///{tmp_path}/crm.db')\n"
        "from crm_core.cli import app\n"
        "for args in (['db', 'upgrade'], ['stores', 'list']):\n"
        "    try:\n        app(args)\n    except SystemExit:\n        pass\n"
    )
    # `db upgrade` needs alembic; `stores list` itself nothing more.
    assert loaded_after(code) == ["alembic"]


def test_only_the_run_and_demo_commands_import_flows() -> None:
    """The domain (crm_core) never imports the Prefect layer; in the CLI only `run` and `demo` do."""
    package = Path(crm_core.__file__).parent
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] in ("flows", "tasks") for name in names):
                importers.add(path.relative_to(package).as_posix())
    assert importers == {"cli/run.py"}  # `demo` runs the flow through cli/run.py
