"""docs/configuration.md is generated from the settings model and kept current."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_core import settings_doc
from crm_core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CONFIGURATION = ROOT / "docs" / "configuration.md"


def test_configuration_doc_is_current() -> None:
    assert CONFIGURATION.read_text(encoding="utf-8") == settings_doc.render(), (
        "docs/configuration.md does not match crm_core/settings.py; "
        "refresh it with `.venv/bin/python -m crm_core.settings_doc`"
    )


def test_every_setting_is_described_and_has_its_readers() -> None:
    assert set(settings_doc.READERS) == set(Settings.model_fields)
    undescribed = [name for name, field in Settings.model_fields.items() if not field.description]
    assert undescribed == []
    text = settings_doc.render()
    for name in Settings.model_fields:
        assert f"\n| `{name.upper()}` |" in text
    assert "| `RETENTION_PDF_DAYS` | int | `400` | - | housekeeping |" in text
    assert "| `SMTP_SECURITY` | starttls \\| ssl \\| none | `starttls` |" in text
    assert "| `DATABASE_URL` | secret | unset | in prod" in text


def test_check_reports_a_stale_file_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "configuration.md"
    assert settings_doc.main(["--file", str(target)]) == 0
    assert settings_doc.main(["--file", str(target), "--check"]) == 0
    stale = target.read_text().replace("`400`", "`90`", 1)
    target.write_text(stale)
    assert settings_doc.main(["--file", str(target), "--check"]) == 1
    assert target.read_text() == stale
    assert "stale" in capsys.readouterr().err
