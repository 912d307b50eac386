"""The ER diagram in docs/architecture.md is generated from the models and kept current."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Numeric, String, Table

from crm_core.db import erd
from crm_core.db.models import Base

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def test_architecture_doc_holds_the_current_diagram() -> None:
    document = ARCHITECTURE.read_text(encoding="utf-8")
    assert document.startswith("# Architecture\n") and "\n## Database\n" in document
    fresh = erd.replace_block(document, erd.block(Base.metadata))
    assert document == fresh, (
        "docs/architecture.md: the ER diagram does not match crm_core/db/models.py; "
        "refresh it with `.venv/bin/python -m crm_core.db.erd`"
    )


def test_diagram_shows_every_table_keys_and_foreign_keys() -> None:
    text = erd.render(Base.metadata)
    assert text.startswith("erDiagram\n")
    for name in Base.metadata.tables:
        assert f"\n    {name} {{\n" in text, name
    assert "        bigint id PK\n" in text
    assert "        bigint store_id FK\n" in text
    assert "        text store_code UK\n" in text  # store_master.store_code is unique
    assert '        numeric mtd_revenue "14,2"\n' in text
    assert "        timestamptz created_at\n" in text
    assert 'store_master ||..o{ store_dashboard_summary : "store_id"' in text
    assert 'notification_profiles ||..o{ notification_recipients : "profile_id"' in text
    # Composite keys of the ingest tables: each key column is marked.
    missed_leads = text.split("    missed_leads {\n", 1)[1].split("    }", 1)[0]
    assert "text pickup_no PK" in missed_leads and "text store_code PK" in missed_leads
    assert erd.render(Base.metadata) == text


def test_relationship_cardinality_follows_nullability_and_uniqueness() -> None:
    metadata = MetaData()
    Table("parent", metadata, Column("id", Integer, primary_key=True))
    Table(
        "child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("optional_parent", Integer, ForeignKey("parent.id"), nullable=True),
        Column("only_child_of", Integer, ForeignKey("parent.id"), nullable=False, unique=True),
        Column("amount", Numeric(10, 3)),
        Column("code", String(12)),
    )
    Table("part", metadata, Column("parent_id", Integer, ForeignKey("parent.id"), primary_key=True))
    text = erd.render(metadata)
    assert 'parent |o..o{ child : "optional_parent"' in text
    assert 'parent ||..o| child : "only_child_of"' in text
    assert 'parent ||--o| part : "parent_id"' in text
    assert "integer only_child_of FK, UK" in text
    assert 'numeric amount "10,3"' in text and "varchar(12) code" in text
    # Tables by name, whatever the order they were defined in.
    assert text.index("    child {") < text.index("    parent {") < text.index("    part {")


def test_command_creates_refreshes_and_checks_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "docs" / "architecture.md"
    assert erd.main(["--file", str(target), "--check"]) == 1
    assert not target.exists()
    assert erd.main(["--file", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == erd.new_document(erd.block(Base.metadata))
    assert erd.main(["--file", str(target), "--check"]) == 0

    # Text around the markers is the lead's and stays; a stale block is reported, then replaced.
    stale = "# Architecture\n\nIntro.\n\n## Database\n\n<!-- er:start -->\nold\n<!-- er:end -->\n\nMore.\n"
    target.write_text(stale, encoding="utf-8")
    capsys.readouterr()
    assert erd.main(["--file", str(target), "--check"]) == 1
    assert "python -m crm_core.db.erd" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == stale
    assert erd.main(["--file", str(target)]) == 0
    refreshed = target.read_text(encoding="utf-8")
    assert refreshed.startswith("# Architecture\n\nIntro.\n\n## Database\n\n<!-- er:start -->\n")
    assert refreshed.endswith("<!-- er:end -->\n\nMore.\n") and "old" not in refreshed

    target.write_text("# Architecture\n\nno markers\n", encoding="utf-8")
    assert erd.main(["--file", str(target)]) == 2
    assert "er:start" in capsys.readouterr().err
