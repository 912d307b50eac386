"""Mermaid ER diagram of the database, generated from the SQLAlchemy models.

`python -m crm_core.db.erd` (from the project root) rewrites the block between the `er:start` / `er:end`
markers of docs/architecture.md; `--check` only reports whether that block is stale (exit 1), for CI.
The output depends on the models alone (tables by name, columns in model order), so it is stable.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Column, MetaData, Table, UniqueConstraint
from sqlalchemy.dialects.postgresql.base import PGDialect

START = "<!-- er:start -->"
END = "<!-- er:end -->"
DEFAULT_FILE = Path("docs/architecture.md")
COMMAND = "python -m crm_core.db.erd"

# Types are shown as PostgreSQL (the production database) names; mermaid takes one word per type.
_PG = PGDialect()  # type: ignore[no-untyped-call]
_TYPE_WORDS = {
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "TIMESTAMP WITHOUT TIME ZONE": "timestamp",
    "DOUBLE PRECISION": "double",
}
_NUMERIC = re.compile(r"NUMERIC\((\d+), (\d+)\)")


def _type_and_comment(column: Column[object]) -> tuple[str, str | None]:
    compiled = column.type.compile(dialect=_PG)
    numeric = _NUMERIC.fullmatch(compiled)
    if numeric:
        # A comma is not allowed in a mermaid type, so precision and scale go into the comment.
        return "numeric", f"{numeric.group(1)},{numeric.group(2)}"
    word = _TYPE_WORDS.get(compiled, compiled).lower().replace(" ", "_")
    return word, None


def _single_column_uniques(table: Table) -> set[str]:
    names = {c.name for c in table.columns if c.unique}
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and len(constraint.columns) == 1:
            names.update(c.name for c in constraint.columns)
    return names


def _attribute(column: Column[object], uniques: set[str]) -> str:
    type_word, comment = _type_and_comment(column)
    keys = [
        key
        for key, present in (
            ("PK", column.primary_key),
            ("FK", bool(column.foreign_keys)),
            ("UK", column.name in uniques and not column.primary_key),
        )
        if present
    ]
    line = f"{type_word} {column.name}"
    if keys:
        line += " " + ", ".join(keys)
    if comment:
        line += f' "{comment}"'
    return line


def _relationships(metadata: MetaData) -> list[str]:
    lines = []
    for table in metadata.tables.values():
        uniques = _single_column_uniques(table)
        for column in table.columns:
            for fk in column.foreign_keys:
                parent = fk.column.table.name
                # Parent side: exactly one, or zero-or-one when the child's reference may be NULL.
                left = "|o" if column.nullable else "||"
                # Child side: at most one when the reference is unique, otherwise many.
                right = "o|" if column.name in uniques or column.primary_key else "o{"
                # A solid line when the reference is part of the child's key (identifying), dashed otherwise.
                line = "--" if column.primary_key else ".."
                lines.append(f'{parent} {left}{line}{right} {table.name} : "{column.name}"')
    return sorted(lines)


def render(metadata: MetaData) -> str:
    """The mermaid `erDiagram` text for every table of `metadata`."""
    lines = ["erDiagram"]
    for name in sorted(metadata.tables):
        table = metadata.tables[name]
        uniques = _single_column_uniques(table)
        lines.append(f"    {name} {{")
        lines.extend(f"        {_attribute(column, uniques)}" for column in table.columns)
        lines.append("    }")
    lines.extend(f"    {relationship}" for relationship in _relationships(metadata))
    return "\n".join(lines) + "\n"


def block(metadata: MetaData) -> str:
    """The markdown between (and including) the markers."""
    return (
        f"{START}\n"
        f"<!-- Generated from crm_core/db/models.py by `{COMMAND}`; edit the models, not this block. -->\n"
        f"```mermaid\n{render(metadata)}```\n"
        f"{END}"
    )


def replace_block(document: str, new_block: str) -> str:
    start, end = document.find(START), document.find(END)
    if start < 0 or end < start or document.count(START) != 1 or document.count(END) != 1:
        raise ValueError(f"expected one {START} ... {END} pair")
    return document[:start] + new_block + document[end + len(END) :]


def new_document(new_block: str) -> str:
    return f"# Architecture\n\n## Database\n\n{new_block}\n"


def _metadata() -> MetaData:
    from crm_core.db.models import Base

    return Base.metadata


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="markdown file holding the markers")
    parser.add_argument("--check", action="store_true", help="exit 1 when the diagram in the file is stale")
    args = parser.parse_args(argv)
    path: Path = args.file
    wanted = block(_metadata())
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    try:
        updated = new_document(wanted) if current is None else replace_block(current, wanted)
    except ValueError as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    if updated == current:
        return 0
    if args.check:
        print(f"{path}: the ER diagram is stale; refresh it with `{COMMAND}`", file=sys.stderr)
        return 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated, encoding="utf-8")
    print(f"{path}: ER diagram updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
