"""One queue for every writer of an SQLite ledger file, across threads and processes.

SQLite lets one writer in at a time and makes the others poll: a writer that finds the database locked sleeps
and retries, for longer and longer (up to 100 ms a try), so under a steady load of appends from several
processes a statement can wait far longer than the transactions ahead of it took. Every writer of the file (the
log's appends and checkpoints, the read models' updates) therefore first takes this lock: a thread lock within
the process, then ``flock`` on ``<database>.write-lock``, which the kernel hands to the next waiter the moment it
is released. SQLite's own lock is then free whenever it is asked for, and its busy wait remains only as a guard
against writers that do not queue here.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the threads still queue, processes fall back on SQLite's wait
    fcntl = None  # type: ignore[assignment]

__all__ = ["WriteLock", "write_lock_for"]


class WriteLock:
    """The write queue of one database file (see the module docstring). Re-entrant within a thread."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".write-lock")
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0  # the process that opened _fd (a forked child must open its own to be queued apart)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the duration of the block (blocking until it is free)."""
        with self._thread_lock:
            if self._depth == 0 and fcntl is not None:
                if self._fd is None or self._pid != os.getpid():
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                    self._pid = os.getpid()
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and fcntl is not None and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)


_registry: dict[str, WriteLock] = {}
_registry_lock = threading.Lock()


def write_lock_for(database: Path) -> WriteLock:
    """The process's one ``WriteLock`` for the database file at ``database``."""
    key = str(database.resolve())
    with _registry_lock:
        lock = _registry.get(key)
        if lock is None:
            lock = _registry[key] = WriteLock(Path(key))
        return lock
