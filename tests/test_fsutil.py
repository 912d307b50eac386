"""Files the product writes are private (0600 in 0700 folders) and written atomically without following
a symlink planted at a temporary name."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_core.fsutil import (
    AtomicFile,
    atomic_writer,
    create_private,
    open_private_append,
    remove_abandoned_parts,
    write_atomic,
)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.mark.usefixtures("umask_022")
def test_written_files_are_0600_in_0700_folders_at_umask_022(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "file.csv"
    write_atomic(path, b"x,y\n1,2\n")
    assert path.read_bytes() == b"x,y\n1,2\n"
    assert mode(path) == 0o600
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert mode(folder) == 0o700, folder
    assert os.listdir(path.parent) == ["file.csv"]  # no temporary left behind


def test_replacing_a_readable_file_makes_it_private(tmp_path: Path) -> None:
    path = tmp_path / "old.eml"
    path.write_bytes(b"old")
    path.chmod(0o644)
    write_atomic(path, b"new")
    assert (path.read_bytes(), mode(path)) == (b"new", 0o600)


def test_writer_never_follows_a_symlink_planted_at_the_old_temporary_name(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    folder = tmp_path / "out"
    folder.mkdir()
    path = folder / "A668.csv"
    # The names a predictable writer would use (today's and earlier ones).
    for name in (".A668.csv.part", ".A668.csv.tmp", ".A668.csv.partial", "A668.csv.part"):
        (folder / name).symlink_to(victim)
    write_atomic(path, b"new content")
    assert victim.read_bytes() == b"precious"
    assert path.read_bytes() == b"new content" and not path.is_symlink()
    assert mode(path) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "merged.csv"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_writer(path) as fh:
        fh.write(b"half")
        raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["merged.csv"]
    target = AtomicFile(tmp_path / "other.csv")
    target.file.write(b"x")
    target.abort()
    assert sorted(os.listdir(tmp_path)) == ["merged.csv"]


@pytest.mark.usefixtures("umask_022")
def test_append_log_is_private_and_refuses_a_symlink(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "events.ndjson"
    with open_private_append(log) as fh:
        fh.write(b"{}\n")
    with open_private_append(log) as fh:
        fh.write(b"{}\n")
    assert log.read_bytes() == b"{}\n{}\n"
    assert (mode(log), mode(log.parent)) == (0o600, 0o700)
    victim = tmp_path / "victim"
    victim.write_bytes(b"")
    link = tmp_path / "logs" / "linked.ndjson"
    link.symlink_to(victim)
    with pytest.raises(OSError):
        open_private_append(link)
    assert victim.read_bytes() == b""


@pytest.mark.usefixtures("umask_022")
def test_create_private_makes_an_empty_0600_file_once(tmp_path: Path) -> None:
    db = tmp_path / "home" / "crm.db"
    create_private(db)
    assert (db.read_bytes(), mode(db), mode(db.parent)) == (b"", 0o600, 0o700)
    db.write_bytes(b"data")
    create_private(db)
    assert db.read_bytes() == b"data"


def test_a_killed_writers_temporary_is_removed_and_a_live_writers_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "A668_2025-11-19.pdf"
    # A writer in another process, killed with SIGKILL mid-write: its temporary stays, its lock does not.
    code = (
        "import os, sys, signal; from pathlib import Path; from crm_core.fsutil import AtomicFile;"
        "f = AtomicFile(Path(sys.argv[1])); f.file.write(b'half'); f.file.flush();"
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    killed = subprocess.run([sys.executable, "-c", code, str(target)], check=False)
    assert killed.returncode == -signal.SIGKILL
    (leftover,) = tmp_path.glob(".A668_2025-11-19.pdf.*.part")
    live = AtomicFile(tmp_path / "A817_2025-11-19.pdf")
    planted = tmp_path / ".A526_2025-11-19.pdf.x.part"
    planted.symlink_to(tmp_path / "elsewhere")
    past = time.time() - 60
    for path in (leftover, live.tmp):
        os.utime(path, (past, past))

    assert remove_abandoned_parts(tmp_path) == [leftover]
    assert live.tmp.exists() and planted.is_symlink()
    assert live.commit().read_bytes() == b""
    assert not target.exists()


def test_a_temporary_created_this_instant_is_left_to_its_writer(tmp_path: Path) -> None:
    fresh = tmp_path / ".A668.pdf.abc.part"
    fresh.write_bytes(b"")  # no lock yet: its writer may be between creating it and locking it
    assert remove_abandoned_parts(tmp_path) == []
    assert remove_abandoned_parts(tmp_path, min_age_seconds=0) == [fresh]
    assert remove_abandoned_parts(tmp_path / "missing") == []
