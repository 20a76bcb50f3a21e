"""Group commit: single statements submitted at the same time by many callers share one transaction.

Each caller of ``GroupCommit.submit`` waits; the first that finds no commit in progress becomes the leader, takes
everything queued (up to ``max_group``), checks each statement on its own and appends the good ones together
(``Ledger.submit_each``), then hands every caller its own receipt or error. Under load this turns N fsyncs and N
lock round trips into one, with no change to what each caller sees: its statement is accepted or refused exactly
as if submitted alone, and an acknowledged statement is committed before its receipt is returned.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ledger.errors import LedgerError
from ledger.service import Ledger, Receipt


@dataclass
class _Slot:
    item: Mapping[str, Any]
    done: bool = False
    receipt: Receipt | None = None
    error: LedgerError | None = None


class GroupCommit:
    """Batches concurrent ``submit`` (threads) or ``submit_async`` (one event loop) calls into shared
    transactions."""

    def __init__(self, ledger: Ledger, max_group: int = 200) -> None:
        self.ledger = ledger
        self.max_group = max_group
        self._cond = threading.Condition()
        self._queue: list[_Slot] = []
        self._busy = False
        self._waiting: list[tuple[Mapping[str, Any], asyncio.Future[Receipt]]] = []
        self._draining = False
        self._drainer: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lvyue-commit")

    async def submit_async(self, item: Mapping[str, Any]) -> Receipt:
        """Submit one signed statement from a coroutine; the commits run on one worker thread, so the event
        loop keeps accepting requests while a group is written.

        Raises:
            LedgerError: this statement's own refusal (as ``Ledger.submit``).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Receipt] = loop.create_future()
        self._waiting.append((item, future))
        if not self._draining:
            self._draining = True
            self._drainer = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                group, self._waiting = self._waiting[: self.max_group], self._waiting[self.max_group :]
                slots = [_Slot(item) for item, _ in group]
                await loop.run_in_executor(self._executor, self._commit, slots)
                for slot, (_, future) in zip(slots, group, strict=True):
                    if future.done():
                        continue
                    if slot.error is not None:
                        future.set_exception(slot.error)
                    else:
                        future.set_result(slot.receipt or {})
        finally:
            self._draining = False

    def submit(self, item: Mapping[str, Any]) -> Receipt:
        """Submit one signed statement; return its receipt.

        Raises:
            LedgerError: this statement's own refusal (as ``Ledger.submit``).
        """
        slot = _Slot(item)
        with self._cond:
            self._queue.append(slot)
        while True:
            with self._cond:
                while self._busy and not slot.done:
                    self._cond.wait()
                if slot.done:
                    break
                self._busy = True  # lead: commit what is queued (ours is in it unless max_group came first)
                group, self._queue = self._queue[: self.max_group], self._queue[self.max_group :]
            try:
                self._commit(group)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        return self._result(slot)

    def _commit(self, group: list[_Slot]) -> None:
        try:
            results = self.ledger.submit_each([s.item for s in group])
        except LedgerError as e:
            results = [e] * len(group)
        except Exception as e:  # an unexpected failure still answers every waiter
            results = [LedgerError(f"internal error: {e}", code="internal")] * len(group)
        for s, r in zip(group, results, strict=True):
            if isinstance(r, LedgerError):
                r.details.pop("item", None)  # its place in the group means nothing to its one submitter
                s.error = r
            else:
                s.receipt = r
            s.done = True

    @staticmethod
    def _result(slot: _Slot) -> Receipt:
        if slot.error is not None:
            raise slot.error
        assert slot.receipt is not None
        return slot.receipt
