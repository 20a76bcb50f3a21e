"""A thread that keeps the projections of a served ledger current: ``run_once`` every fraction of a second."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.projections.runner import Projections
    from ledger.service import Ledger

__all__ = ["Poller"]

log = logging.getLogger("lvyue.projections")


class Poller(threading.Thread):
    """Runs ``projections.run_once(ledger)`` every ``interval`` seconds until ``stop()``.

    A failing run is logged and retried on the next tick (its batch was rolled back, nothing is lost). Call
    ``wake()`` after a submit to apply it at once instead of at the next tick.
    """

    def __init__(self, projections: Projections, ledger: Ledger, interval: float = 0.25) -> None:
        super().__init__(name="lvyue-projections", daemon=True)
        self.projections = projections
        self.ledger = ledger
        self.interval = interval
        self.errors = 0
        self._stop_event = threading.Event()
        self._wake = threading.Event()

    def run(self) -> None:
        """The thread's loop (do not call; use ``start()``)."""
        while not self._stop_event.is_set():
            try:
                self.projections.run_once(self.ledger)
            except Exception:
                self.errors += 1
                log.exception("projection run failed; retrying")
            self._wake.wait(self.interval)
            self._wake.clear()

    def wake(self) -> None:
        """Run now rather than at the next tick."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and wait up to ``timeout`` seconds for the thread to end."""
        self._stop_event.set()
        self._wake.set()
        self.join(timeout)
