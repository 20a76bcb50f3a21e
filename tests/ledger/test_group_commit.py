"""Group commit: concurrent single submissions share transactions, each getting its own answer."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ledger.errors import LedgerError
from ledger.group_commit import GroupCommit, independent
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


def test_pipelined_groups_check_a_statement_only_after_the_one_it_follows_is_committed(ledger: Ledger) -> None:
    # Groups of 3: while one is appended the next is checked, unless it is about an aggregate in flight.
    maker, authority = enterprise(ledger), government(ledger)
    body = commitment_body(authority)
    aggregates = [str(uuid.uuid4()) for _ in range(12)]
    made = [maker.statement("commitment.made", a, body, version=1) for a in aggregates]
    kept = [
        authority.statement("commitment.kept", a, {"on": "2026-02-01", "evidence_sha256": "ab" * 32}, version=2)
        for a in aggregates
    ]
    # each kept right behind its made, so the group after a made's group holds its kept
    order = [s for pair in zip(made, kept, strict=True) for s in pair]
    group = GroupCommit(ledger, max_group=3)
    size = ledger.size()

    async def send_all() -> list[Any]:
        return await asyncio.gather(*(group.submit_async(s) for s in order), return_exceptions=True)

    answers = asyncio.run(send_all())
    assert [type(a).__name__ for a in answers] == ["dict"] * 24
    assert ledger.size() == size + 24
    assert all(ledger.aggregate(a)[1].status == "kept" for a in aggregates)


def test_independent_groups() -> None:
    def st(type_: str, aggregate: object) -> dict[str, Any]:
        return {"statement": {"type": type_, "aggregate": aggregate}, "signatures": []}

    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert independent([st("commitment.made", a)], [st("commitment.made", b)])
    assert independent([st("contract.consented", a)], [(st("performance.reported", b), None)])
    assert not independent([st("commitment.made", a)], [st("commitment.kept", a)]), "same aggregate"
    assert not independent([st("key.bound", a)], [st("commitment.made", b)]), "a key others may sign with"
    assert not independent([st("subject.registered", a)], [st("commitment.made", b)]), "a subject others name"
    assert not independent([st("commitment.made", a)], [{"statement": "x"}]), "unreadable counts as dependent"
    assert not independent([st("commitment.made", a)], [st("commitment.made", 7)])
