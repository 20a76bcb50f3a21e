"""A thread that keeps the projections of a served ledger current: ``run_once`` every fraction of a second."""

from __future__ import annotations

import fcntl
import logging
import threading
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.projections.runner import Projections
    from ledger.service import Ledger

__all__ = ["Poller"]

log = logging.getLogger("lvyue.projections")
LONG_CHAIN = 1000  # subjects with more entries than this are not recomputed on every tick


SERVED_BATCH = 64
"""Entries a served poller applies per transaction (their rows take a few milliseconds to write)."""


class Poller(threading.Thread):
    """Runs ``projections.run_once(ledger)`` every ``interval`` seconds until ``stop()``.

    A failing run is logged and retried on the next tick (its batch was rolled back, nothing is lost). Call
    ``wake()`` after a submit to apply it at once instead of at the next tick.

    Of the pollers of one data directory (several server workers), one runs at a time: each holds an exclusive
    lock on ``<data dir>/projections.lock`` while it is the runner; the others wait for it, and one takes over
    if the runner's process ends. Running several would be safe (positions move by compare-and-set) but each
    would redo the same work.

    It applies ``batch`` entries per transaction (default ``SERVED_BATCH``): the rows of each are written under
    the database's write lock, which on SQLite the log's appends need too, so small batches keep the appends'
    waits short while the API is busy.
    """

    def __init__(
        self, projections: Projections, ledger: Ledger, interval: float = 0.25, batch: int = SERVED_BATCH
    ) -> None:
        super().__init__(name="lvyue-projections", daemon=True)
        self.projections = projections
        self.ledger = ledger
        self.interval = interval
        self.batch = batch
        self.errors = 0
        self._stop_event = threading.Event()
        self._wake = threading.Event()
        self._lock_file: IO[bytes] | None = None

    def _is_runner(self) -> bool:
        """True once this poller holds the data directory's runner lock (tried again on each tick)."""
        if self._lock_file is not None:
            return True
        path = self.ledger.settings.data_dir / "projections.lock"
        handle = path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        return True

    def run(self) -> None:
        """The thread's loop (do not call; use ``start()``)."""
        tick = 0
        try:
            while not self._stop_event.is_set():
                try:
                    if self._is_runner():
                        # Long chains (a busy authority) are recomputed when read, or here once a minute.
                        tick += 1
                        full = tick % max(1, int(60 / self.interval)) == 0
                        self.projections.run_once(
                            self.ledger,
                            batch=self.batch,
                            flush_budget=1.0 if full else self.interval / 10,
                            flush_max_chain=None if full else LONG_CHAIN,
                        )
                except Exception:
                    self.errors += 1
                    log.exception("projection run failed; retrying")
                self._wake.wait(self.interval)
                self._wake.clear()
        finally:
            if self._lock_file is not None:
                self._lock_file.close()  # releases the lock

    def wake(self) -> None:
        """Run now rather than at the next tick."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and wait up to ``timeout`` seconds for the thread to end."""
        self._stop_event.set()
        self._wake.set()
        self.join(timeout)
