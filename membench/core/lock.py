"""One writer per directory: an exclusive ``flock`` on a lock file, refused (never waited for) when held.

The kernel drops an ``flock`` when its process dies, however it dies, so a writer killed mid-run never
leaves a stale lock behind: the next command resumes. The lock file holds the holder's PID, so the
refusal can say which process is writing. The file itself is left in place on release: removing it
would let a third process lock a new file while a second still holds the old one.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from membench.core.errors import ConfigError, RunFailure

#: the lock file a run directory holds while a command writes to it.
LOCK = "writer.lock"


@contextmanager
def exclusive(lock_path: Path, what: Path) -> Iterator[None]:
    """Hold the lock at ``lock_path`` for the body; a RunFailure naming ``what`` and the holder's PID
    when another process holds it."""
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{what} cannot be used as a directory ({exc.strerror})") from None
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunFailure(
                f"{what} is being written by another membench process (PID {_holder(fd)}); "
                "wait for it to finish, or stop it and run the same command again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def _holder(fd: int) -> str:
    """The PID the holder wrote into the lock file ("unknown" if it has not written it yet)."""
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return text or "unknown"
