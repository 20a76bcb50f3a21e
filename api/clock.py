"""The overdue clock: the operator's ``milestone.overdue`` and ``commitment.overdue`` statements.

``OpenAggregates`` remembers the contracts and commitments that may still fall overdue. It reads the log once
from the start and then only the entries appended since; contracts and commitments that reach a final state are
forgotten.
"""

from __future__ import annotations

import threading

import orjson

from api.models import ClockFailure, ClockOut, Receipt
from ledger.errors import LedgerError, RuleRejected
from ledger.service import Ledger
from verifier.errors import FormatError
from verifier.rules import CommitmentState, ContractState
from verifier.statement import check_date

_CREATING = (b'"type":"contract.proposed"', b'"type":"commitment.made"')


class OpenAggregates:
    """Ids of contracts and commitments not yet final, kept up to date from the log."""

    def __init__(self) -> None:
        self.position = 0
        self.ids: set[str] = set()
        self._lock = threading.Lock()

    def refresh(self, ledger: Ledger) -> None:
        """Read the entries appended since the last refresh."""
        with self._lock:
            size = ledger.size()
            for _index, data in ledger.entries(self.position, size):
                if any(marker in data for marker in _CREATING):
                    statement = orjson.loads(data)["statement"]
                    if statement["type"] in ("contract.proposed", "commitment.made"):
                        self.ids.add(statement["aggregate"])
            self.position = max(self.position, size)

    def run(self, ledger: Ledger, as_of: str) -> ClockOut:
        """Make every overdue statement due as of ``as_of``: milestones of registered contracts not settled
        and not yet overdue with ``due < as_of``, open commitments with ``deadline < as_of``.

        Raises:
            RuleRejected: ``bad_date`` when ``as_of`` is not a date.
            LedgerError: the store failed.
        """
        try:
            check_date(as_of, what="as_of")
        except FormatError as e:
            raise RuleRejected(str(e), code="bad_date") from None
        self.refresh(ledger)
        receipts: list[Receipt] = []
        failed: list[ClockFailure] = []
        milestones = commitments = 0
        with self._lock:
            ids = sorted(self.ids)
        for aggregate in ids:
            _version, state = ledger.aggregate(aggregate)
            if isinstance(state, ContractState):
                if state.final:
                    self._forget(aggregate)
                    continue
                if state.status != "registered":
                    continue
                for m in state.milestones.values():
                    if m.status != "open" or m.overdue or not m.due < as_of:
                        continue
                    body = {"milestone": m.id, "as_of": as_of}
                    try:
                        r = ledger.submit_as_platform("operator", "milestone.overdue", aggregate, body)
                    except LedgerError as e:
                        failed.append(ClockFailure(aggregate=aggregate, milestone=m.id, code=e.code))
                        continue
                    receipts.append(Receipt(**r))
                    milestones += 1
            elif isinstance(state, CommitmentState):
                if state.status in ("kept", "broken"):
                    self._forget(aggregate)
                    continue
                if state.status != "open" or not state.deadline < as_of:
                    continue
                try:
                    r = ledger.submit_as_platform("operator", "commitment.overdue", aggregate, {"as_of": as_of})
                except LedgerError as e:
                    failed.append(ClockFailure(aggregate=aggregate, milestone=None, code=e.code))
                    continue
                receipts.append(Receipt(**r))
                commitments += 1
        return ClockOut(as_of=as_of, milestones=milestones, commitments=commitments, receipts=receipts, failed=failed)

    def _forget(self, aggregate: str) -> None:
        with self._lock:
            self.ids.discard(aggregate)
