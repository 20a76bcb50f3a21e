"""Several processes appending at once: one chain, contiguous indexes, nothing acknowledged missing."""

from __future__ import annotations

import base64
import multiprocessing
import queue
import time
import uuid
from typing import Any

from ledger.client import KeyFile
from ledger.parties import Party, revoke_key
from ledger.service import Ledger
from ledger.settings import Settings
from tests.ledger.scenario import commitment_body, enterprise, government
from verifier.entry import parse_entry
from verifier.hashing import entry_hash, leaf_hash
from verifier.merkle import CompactRange, check_consistency, check_inclusion, prove_consistency, tree_hash

WRITERS = 4
PER_WRITER = 30


def _writer(settings: Settings, maker: dict[str, Any], authority: str, batch: int, out: Any) -> None:
    ledger = Ledger.open(settings)
    party = Party(ledger, KeyFile.from_json(maker))
    receipts = []
    try:
        for n in range(PER_WRITER):
            body = {
                "kind": "industry_self_discipline",
                "authority": authority,
                "content": f"承诺 {n}",
                "made_on": "2026-01-10",
                "deadline": "2026-06-30",
                "related": None,
            }
            statements = [party.statement("commitment.made", str(uuid.uuid4()), body) for _ in range(batch)]
            receipts.extend(ledger.submit_batch(statements))
    finally:
        ledger.close()
    out.put([(r["index"], r["entry_hash"]) for r in receipts])


def test_concurrent_processes_keep_one_chain(ledger: Ledger) -> None:
    authority = government(ledger)
    makers = [enterprise(ledger) for _ in range(WRITERS)]
    start = ledger.size()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(ledger.settings, m.key.to_json(), authority.subject, 1 + i % 2, out))
        for i, m in enumerate(makers)
    ]
    for p in procs:
        p.start()
    acknowledged: list[tuple[int, str]] = []
    answered = 0
    deadline = time.monotonic() + 180
    while answered < len(procs):
        try:
            acknowledged.extend(out.get(timeout=1))
            answered += 1
        except queue.Empty:
            crashed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            assert not crashed, f"a writer process failed: exit codes {crashed}"
            assert time.monotonic() < deadline, "writers did not finish"
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    expected = sum(PER_WRITER * (1 + i % 2) for i in range(WRITERS))
    assert len(acknowledged) == expected
    assert ledger.size() == start + expected
    stored = dict(acknowledged)
    previous = None
    compact = CompactRange()
    last_about: dict[str, int] = {}
    for index, data in ledger.entries(0, ledger.size()):
        entry = parse_entry(data)
        assert entry.index == index
        assert entry.prev == (previous.hex() if previous else None)
        for subject, link in entry.links.items():  # the authority is linked across every writer's entries
            assert link == last_about.get(subject), f"entry {index}: link of {subject}"
            last_about[subject] = index
        previous = entry_hash(data)
        compact.append(leaf_hash(data))
        if index in stored:
            assert stored.pop(index) == previous.hex()
    assert not stored, "every acknowledged entry is in the log with the acknowledged hash"
    # The Merkle tree kept inside the transactions agrees with a fresh computation.
    checkpoint = ledger.checkpoint()
    root = compact.root()
    assert checkpoint.split("\n")[2] == base64.b64encode(root).decode()
    proof = prove_consistency(ledger.size(), start, ledger.store.read_hashes)
    check_consistency(proof, ledger.size(), root, start, tree_hash(start, ledger.store.read_hashes))
    last = ledger.size() - 1
    check_inclusion(
        ledger.prove_inclusion(last, ledger.size()), ledger.size(), root, last, leaf_hash(ledger.entry(last))
    )


def test_revocation_landing_after_the_check_is_caught_in_the_transaction(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    # Warm this ledger's key cache with the supplier's (still valid) key.
    agg = str(uuid.uuid4())
    body = commitment_body(buyer)
    supplier.submit("commitment.made", agg, body)
    other = Ledger.open(ledger.settings)
    try:
        revoke_key(other, supplier.subject, supplier.key.key_id, "compromised")
    finally:
        other.close()
    size = ledger.size()
    try:
        supplier.submit("commitment.made", str(uuid.uuid4()), body)
    except Exception as e:
        assert getattr(e, "code", None) == "revoked_key", e
    else:
        raise AssertionError("a statement signed with a revoked key was accepted")
    assert ledger.size() == size


def test_two_writers_of_one_store_take_turns_about_the_same_subjects(ledger: Ledger) -> None:
    """Each writer remembers the subject heads of its own appends; when the other appended in between, it reads
    them again, so every subject link still names the previous entry about that subject."""
    authority = government(ledger)
    maker = enterprise(ledger)
    other = Ledger.open(ledger.settings)
    try:
        body = commitment_body(authority)
        for turn in range(12):
            writer = ledger if turn % 3 else other
            for _ in range(1 + turn % 2):
                writer.submit(maker.statement("commitment.made", str(uuid.uuid4()), body))
    finally:
        other.close()
    last_about: dict[str, int] = {}
    for index, data in ledger.entries(0, ledger.size()):
        for subject, link in parse_entry(data).links.items():
            assert link == last_about.get(subject), f"entry {index}: link of {subject}"
            last_about[subject] = index
    assert (
        ledger.checkpoint().split("\n")[2]
        == base64.b64encode(tree_hash(ledger.size(), ledger.store.read_hashes)).decode()
    )
