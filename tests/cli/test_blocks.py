"""`crm blocks register|save-from-env` against a real (temporary) Prefect server."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_core.blocks import CrmPortalBlock
from crm_core.cli import app

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_crm_blocks_commands_save_the_environment_secrets(tmp_path: Path) -> None:
    runner = CliRunner()
    home = {"CRM_HOME": str(tmp_path), "DATABASE_URL": "", "SMTP_HOST": "", "PORTAL_USERNAME": ""}
    result = runner.invoke(app, ["blocks", "register"], env=home)
    assert result.exit_code == 0, result.output
    assert "registered block type crm-portal-login" in result.output

    result = runner.invoke(app, ["blocks", "save-from-env", "--name", "cli"], env=home)
    assert result.exit_code == 1 and "nothing to save" in result.output

    env = home | {"PORTAL_USERNAME": "A668", "PORTAL_PASSWORD": "Cli-Portal-Pw-5"}
    result = runner.invoke(app, ["blocks", "save-from-env", "--name", "cli"], env=env)
    assert result.exit_code == 0, result.output
    assert "saved block crm-portal-login/cli" in result.output and "CRM_PORTAL_BLOCK=cli" in result.output
    assert "Cli-Portal-Pw-5" not in result.output
    loaded = CrmPortalBlock.load("cli")
    assert loaded.password.get_secret_value() == "Cli-Portal-Pw-5"
