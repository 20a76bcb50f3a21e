"""Group commit: concurrent single submissions share transactions, each getting its own answer."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ledger.errors import LedgerError
from ledger.group_commit import GroupCommit
from ledger.service import Ledger
from tests.ledger.scenario import commitment_body, enterprise, government


def test_concurrent_submissions_each_get_their_own_answer(ledger: Ledger) -> None:
    maker, authority = enterprise(ledger), government(ledger)
    body = commitment_body(authority)
    good = [maker.statement("commitment.made", str(uuid.uuid4()), body) for _ in range(60)]
    bad = [
        maker.statement("commitment.made", str(uuid.uuid4()), dict(body, authority="91120113MA0000099X"))
        for _ in range(10)
    ]
    replay = good[0]
    items: list[dict[str, Any]] = [*good, *bad, replay]
    group = GroupCommit(ledger, max_group=16)
    size = ledger.size()

    def send(item: dict[str, Any]) -> Any:
        try:
            return group.submit(item)
        except LedgerError as e:
            return e

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(send, items))
    receipts = [a for a in answers if isinstance(a, dict)]
    errors = [a for a in answers if isinstance(a, LedgerError)]
    assert len(receipts) == 60
    assert len(errors) == 11
    assert {e.code for e in errors[:10]} <= {"not_registered", "malformed"}
    assert all("item" not in e.details for e in errors), "each submitter sent one statement: no place in a group"
    assert ledger.size() == size + 60
    assert sorted(r["index"] for r in receipts) == list(range(size, size + 60))
