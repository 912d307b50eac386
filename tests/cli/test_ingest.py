"""`crm ingest` end to end against PostgreSQL (typer CliRunner, real files, real database)."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from crm_core.cli import app
from crm_core.db.engine import make_engine
from crm_core.exports import MISSED_LEADS
from crm_core.ingest.files import infer_store

pytestmark = pytest.mark.postgres

HEADER = (
    "id,mobile_number,pickup_no,pickup_created_date,pickup_created_time,store_code,store_name,pickup_date,"
    "pickup_time,customer_name,special_instruction,source,final_source,customer_type,is_order_placed"
)


def export(folder: Path, name: str, store: str, rows: int, bad_row: bool = False) -> Path:
    lines = [HEADER]
    for n in range(1, rows + 1):
        row_id = "oops" if bad_row and n == rows else str(n)
        lines.append(
            f"{row_id},96{n:08d},P{store}{n:03d},2025-11-18,09:00:00,{store},Store,19/11/2025,"
            f"2:00 PM - 4:00 PM,Meena S,,Customer App,Customer App,Existing,1"
        )
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def db_count(url: str, sql: str) -> int:
    async def _count() -> int:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return int((await conn.execute(text(sql))).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(_count())


@pytest.fixture
def cli_env(pg_url: str, tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": pg_url, "CRM_HOME": str(tmp_path / "home")}


def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["ingest", *args], env=env)
    return result.exit_code, result.output


def work_root(env: dict[str, str]) -> Path:
    return Path(env["CRM_HOME"]) / "downloads" / "ingest"


def test_ingest_ok_then_rerun_counts_unchanged_rows(
    cli_env: dict[str, str], pg_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    a = export(folder, "A668-missed-leads.csv", "A668", 3)
    b = export(folder, "leads-kirti.csv", "A817", 2)  # store from the store_code column
    before = {p.name: p.read_bytes() for p in (a, b)}
    code, output = invoke(cli_env, "missed_leads", str(a), str(b), "--date", "2025-11-19")
    assert code == 0, output
    for word in ("download", "merged", "rejected", "inserted", "updated", "unchanged", "ingested", "ok"):
        assert word in output
    assert "5 row(s) ingested (5 new, 0 updated, 0 unchanged)" in output
    assert db_count(pg_url, "SELECT count(*) FROM missed_leads WHERE run_date = '2025-11-19'") == 5
    # The user's files are untouched; the work copies are gone after the ok audit.
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert list(work_root(cli_env).iterdir()) == []
    assert "work folder kept" not in output

    code, output = invoke(cli_env, "missed_leads", str(a), "--date", "2025-11-19")
    assert code == 0, output
    assert "3 row(s) ingested (0 new, 0 updated, 3 unchanged)" in output
    assert db_count(pg_url, "SELECT count(*) FROM missed_leads") == 5


def test_delete_inputs_removes_the_files_after_an_ok_audit(
    cli_env: dict[str, str], pg_url: str, tmp_path: Path
) -> None:
    a = export(tmp_path, "A668-missed-leads.csv", "A668", 2)
    code, output = invoke(cli_env, "missed_leads", str(a), "--date", "2025-11-19", "--delete-inputs")
    assert code == 0, output
    assert not a.exists() and "input files deleted (--delete-inputs): 1" in output
    assert list(work_root(cli_env).iterdir()) == []
    assert db_count(pg_url, "SELECT count(*) FROM missed_leads") == 2


def test_rejects_exit_1_and_keep_the_files(cli_env: dict[str, str], pg_url: str, tmp_path: Path) -> None:
    a = export(tmp_path, "A668-missed-leads.csv", "A668", 3, bad_row=True)
    before = a.read_bytes()
    code, output = invoke(cli_env, "missed_leads", str(a), "--date", "2025-11-19", "--delete-inputs")
    assert code == 1, output
    assert "warn" in output and "1 row(s) rejected" in output
    assert "rejects_missed_leads_20251119.csv" in output
    assert a.read_bytes() == before  # not ok: --delete-inputs does not apply
    (work,) = work_root(cli_env).iterdir()
    assert f"work folder kept: {work}" in output
    assert sorted(p.name for p in work.iterdir()) == [
        "A668-missed-leads.csv",
        "merged_missed_leads_20251119.csv",
        "rejects_missed_leads_20251119.csv",
    ]
    assert not (tmp_path / "merged_missed_leads_20251119.csv").exists()
    assert db_count(pg_url, "SELECT count(*) FROM missed_leads") == 2
    assert "9600000003" not in output and "Meena" not in output


def test_dry_run_prints_the_plan_and_changes_nothing(
    cli_env: dict[str, str], pg_url: str, tmp_path: Path
) -> None:
    a = export(tmp_path, "A668-missed-leads.csv", "A668", 2)
    code, output = invoke(cli_env, "missed_leads", str(a), "--dry_run", "--date", "2025-11-19")
    assert code == 0, output
    assert "dry run" in output and "sample rows" in output and "pickup_no=PA668001" in output
    assert "9600000001" not in output and "Meena" not in output
    assert a.exists() and db_count(pg_url, "SELECT count(*) FROM missed_leads") == 0
    assert list(work_root(cli_env).iterdir()) == []


def test_operator_errors_exit_2(cli_env: dict[str, str], tmp_path: Path) -> None:
    code, output = invoke(cli_env, "no_such_bucket", str(tmp_path / "x.csv"))
    assert code == 2 and "unknown bucket 'no_such_bucket'" in output
    code, output = invoke(cli_env, "missed_leads", str(tmp_path / "missing.csv"))
    assert code == 2 and "no such file" in output
    a = export(tmp_path, "A668-missed-leads.csv", "A668", 1)
    b = export(tmp_path, "other.csv", "A668", 1)
    code, output = invoke(cli_env, "missed_leads", str(a), str(b))
    assert code == 2 and "a second file for store A668" in output


def test_store_is_inferred_from_the_column_then_the_name(tmp_path: Path) -> None:
    assert infer_store(MISSED_LEADS, export(tmp_path, "x.csv", "a526", 1)) == "A526"
    empty = tmp_path / "T846-missed-leads.csv"
    empty.write_text(HEADER + "\n", encoding="utf-8")
    assert infer_store(MISSED_LEADS, empty) == "T846"
    html = tmp_path / "page.csv"
    html.write_text("<html><body>login</body></html>", encoding="utf-8")
    assert infer_store(MISSED_LEADS, html) is None


def test_files_kept_for_people_carry_no_formulas(
    cli_env: dict[str, str], pg_url: str, tmp_path: Path
) -> None:
    """The merged file kept after a failed audit and the rejects are opened in spreadsheets: a value
    starting with = + - @ gets a leading ' there; the database keeps the value as it came."""
    a = export(tmp_path, "=A668-missed-leads.csv", "A668", 3, bad_row=True)
    a.write_text(a.read_text().replace("Meena S", "=1+2", 1).replace(",,Customer", ",@SUM(A1),Customer", 1))
    code, output = invoke(cli_env, "missed_leads", str(a), "--date", "2025-11-19")
    assert code == 1, output
    (work,) = work_root(cli_env).iterdir()
    for name in ("merged_missed_leads_20251119.csv", "rejects_missed_leads_20251119.csv"):
        with (work / name).open(encoding="utf-8", newline="") as fh:
            cells = [cell for row in csv.reader(fh) for cell in row]
        assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))], name
        assert "'=A668-missed-leads.csv" in cells, name  # the source file's name, in both files
    merged = (work / "merged_missed_leads_20251119.csv").read_text(encoding="utf-8")
    assert "'=1+2" in merged and "'@SUM(A1)" in merged
    assert db_count(pg_url, "SELECT count(*) FROM missed_leads WHERE customer_name = '=1+2'") == 1
    assert db_count(pg_url, "SELECT count(*) FROM missed_leads WHERE special_instruction = '@SUM(A1)'") == 1


def test_a_store_code_in_a_file_that_is_no_code_is_refused(cli_env: dict[str, str], tmp_path: Path) -> None:
    a = export(tmp_path, "x.csv", "../../X", 1)
    code, output = invoke(cli_env, "missed_leads", str(a))
    assert code == 2 and "x.csv: store code '../../X' is not valid" in output, output
    assert not (tmp_path / "home").exists() or not list(work_root(cli_env).iterdir())
