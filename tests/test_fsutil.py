"""Files the product writes are private (0600 in 0700 folders) and written atomically without following
a symlink planted at a temporary name."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_core.fsutil import AtomicFile, atomic_writer, create_private, open_private_append, write_atomic


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
