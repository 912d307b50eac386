"""Every file the product writes goes through here: private to its owner and never seen half-written.

- Folders the product creates are 0700 (each missing level, not only the last one).
- Files are 0600, set on the open descriptor, whatever the umask says.
- `atomic_writer` writes to a fresh temporary sibling made with O_CREAT|O_EXCL (`mkstemp`), so a symlink
  planted at a predictable name is never followed; the data is fsynced and the file renamed into place.
- The writer holds an exclusive `flock` on its temporary file until it is renamed or removed. A process
  killed mid-write leaves the temporary behind with no lock on it (the kernel drops the lock with the
  process), so `remove_abandoned_parts` can tell a dead writer's leftover from a live writer's file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

DIR_MODE = 0o700
FILE_MODE = 0o600
PART_SUFFIX = ".part"


def private_dir(path: Path) -> Path:
    """`path` and every missing parent created 0700; existing folders are left as they are."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # a concurrent run made it first
            folder.mkdir(mode=DIR_MODE)
        # mkdir's mode passes through the umask; a umask such as 0o277 would leave it unusable.
        os.chmod(folder, DIR_MODE)
    return path


def tighten_home(home: Path) -> Path:
    """CRM_HOME created 0700, or made 0700 when it already exists and is ours: it holds customer data."""
    private_dir(home)
    info = home.stat()
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(home, DIR_MODE)
    return home


def _private(fd: int) -> None:
    os.fchmod(fd, FILE_MODE)


class AtomicFile:
    """A new content for `path`, written to a private temporary sibling; `commit` fsyncs it and renames it
    into place, `abort` removes it. Readers of `path` never see a half-written file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        private_dir(path.parent)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PART_SUFFIX, dir=path.parent)
        self.tmp = Path(name)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours until renamed: see remove_abandoned_parts
            _private(fd)
            self.file: BinaryIO = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            self.tmp.unlink(missing_ok=True)
            raise
        self.done = False

    def commit(self) -> Path:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self.done = True
        _fsync_dir(self.path.parent)
        return self.path

    def abort(self) -> None:
        if self.done:
            return
        self.done = True
        with contextlib.suppress(OSError):
            self.file.close()
        self.tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """A binary file object whose content replaces `path` only when the block ends without error."""
    target = AtomicFile(path)
    try:
        yield target.file
    except BaseException:
        target.abort()
        raise
    target.commit()


def write_atomic(path: Path, data: bytes) -> None:
    """`data` as the whole new content of `path` (see `atomic_writer`)."""
    with atomic_writer(path) as fh:
        fh.write(data)


def remove_abandoned_parts(folder: Path, *, min_age_seconds: float = 1.0) -> list[Path]:
    """Temporary files in `folder` (not below it) that a killed writer left behind, removed; returned.

    A temporary file whose lock can be taken has no live writer. `min_age_seconds` spares a file created
    an instant ago whose writer has not taken its lock yet.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return removed
    now = time.time()
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(PART_SUFFIX)):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:  # gone already, or a symlink: not one of ours
            continue
        try:
            if now - os.fstat(fd).st_mtime < min_age_seconds:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a live writer holds it
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except FileNotFoundError:
            continue
        finally:
            os.close(fd)
    return removed


def open_private_append(path: Path) -> BinaryIO:
    """`path` opened for appending, created 0600; a symlink at `path` is refused (ELOOP)."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        _private(fd)  # also tightens a file an older version left 0644
        return os.fdopen(fd, "ab")
    except BaseException:
        os.close(fd)
        raise


def create_private(path: Path) -> None:
    """Create `path` empty and 0600 when it does not exist (for files another library then opens, such as
    SQLite's database: it gives its journal the database file's mode)."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
        try:
            _private(fd)
        finally:
            os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; some file systems refuse fsync on a folder, which is harmless."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
