"""A thread of its own for work that overlaps the append's commit: the ledger signs receipts on it while the
commit waits on the disk.

A commit releases the GIL for as long as the database takes to make it durable, and signing a receipt releases it
for the Ed25519 arithmetic, so the two overlap. Handing the work over through two ``queue.SimpleQueue`` (C code,
no ``Future`` or ``Condition`` to build) costs the appending thread a few microseconds; a thread pool's
``submit`` and ``result`` cost it several times that, which at one statement per commit is a tenth of the
append's own work.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

_In = TypeVar("_In")
_Out = TypeVar("_Out")

__all__ = ["SideThread"]


class SideThread(Generic[_In, _Out]):
    """Runs ``work`` over batches of items on one daemon thread, one batch after another.

    ``start(items)`` hands a batch over and returns a function that waits for its results (re-raising what
    ``work`` raised). The thread is made on first use, and again in a forked child, which inherits the object but
    not the thread.
    """

    def __init__(self, work: Callable[[_In], _Out], name: str) -> None:
        self._work = work
        self._name = name
        self._jobs: queue.SimpleQueue[tuple[Sequence[_In], queue.SimpleQueue[Any]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def start(self, items: Sequence[_In]) -> Callable[[], list[_Out]]:
        """Begin ``work`` on each of ``items``; return the function that waits for the results, in order."""
        if self._pid != os.getpid() or self._thread is None:
            self._spawn()
        box: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._jobs.put((items, box))

        def wait() -> list[_Out]:
            ok, value = box.get()
            if not ok:
                raise value
            results: list[_Out] = value
            return results

        return wait

    def close(self) -> None:
        """Let the thread end once the batches handed over are done."""
        with self._lock:
            if self._thread is not None and self._pid == os.getpid():
                self._jobs.put(None)
            self._thread = None

    def _spawn(self) -> None:
        with self._lock:
            if self._pid == os.getpid() and self._thread is not None:
                return
            self._jobs = queue.SimpleQueue()  # a forked child's copy may hold its parent's batches
            self._thread = threading.Thread(target=self._run, args=(self._jobs,), name=self._name, daemon=True)
            self._thread.start()
            self._pid = os.getpid()

    def _run(self, jobs: queue.SimpleQueue[tuple[Sequence[_In], queue.SimpleQueue[Any]] | None]) -> None:
        work = self._work
        while (job := jobs.get()) is not None:
            items, box = job
            try:
                box.put((True, [work(item) for item in items]))
            except BaseException as e:  # handed to the waiting thread, which re-raises it
                box.put((False, e))
