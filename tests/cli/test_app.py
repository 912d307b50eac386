"""The `crm` app as a whole: every command group registered, every help text renders."""

from __future__ import annotations

from typer.testing import CliRunner

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
