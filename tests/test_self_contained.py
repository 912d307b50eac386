"""The project stands on its own: no tracked file cites specification documents that live outside it.

The business rules and the design are in README.md and docs/; code, tests and config point there, never to
section numbers of documents a reader of the repository cannot open.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The two outside documents' names, spelled in pieces so that this file does not cite them either.
_OUTSIDE = ("DOM" + "AIN", "DES" + "IGN")
CITATION = re.compile("|".join(rf"{name}\.md|{name} [AB\u00a7]" for name in _OUTSIDE) + r"|\u00a7\s*[0-9]")


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    return [name for name in listed.split("\0") if name]


def test_no_tracked_file_cites_outside_specifications() -> None:
    hits: list[str] = []
    for name in tracked_files():
        if name == "README.md" or name.startswith("docs/"):
            continue
        path = ROOT / name
        if not path.is_file():
            continue  # deleted in the working tree, not yet committed
        data = path.read_bytes()
        if b"\0" in data:
            continue  # binary
        text = data.decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if CITATION.search(line):
                hits.append(f"{name}:{number}: {line.strip()}")
    assert not hits, "citations of documents outside the repository:\n" + "\n".join(hits)
