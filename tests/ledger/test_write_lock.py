"""The write queue of an SQLite ledger file: it excludes other processes and other threads, and nests."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from ledger.store.write_lock import write_lock_for

_TRY = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    print("held")
else:
    print("free")
"""


def _other_process_sees(lock_path: Path) -> str:
    out = subprocess.run([sys.executable, "-c", _TRY, str(lock_path)], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_held_excludes_other_processes_and_threads_and_nests(tmp_path: Path) -> None:
    lock = write_lock_for(tmp_path / "ledger.sqlite3")
    assert lock is write_lock_for(tmp_path / "." / "ledger.sqlite3"), "one lock per file per process"
    order: list[str] = []

    def other_thread() -> None:
        with lock.held():
            order.append("thread")

    with lock.held():
        with lock.held():  # re-entrant within a thread
            assert _other_process_sees(lock.path) == "held"
        assert _other_process_sees(lock.path) == "held", "the outer hold still holds"
        t = threading.Thread(target=other_thread)
        t.start()
        time.sleep(0.1)
        order.append("holder")
    t.join(5)
    assert order == ["holder", "thread"]
    assert _other_process_sees(lock.path) == "free"
