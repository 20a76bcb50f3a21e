"""The stored Merkle hashes: kept in their entries' rows, and read as before from a ledger made when they were rows
of ``lvyue_hashes`` (which keeps its older entries that way once opened by this code and appended to)."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from ledger.parties import Party
from ledger.service import Ledger
from ledger.settings import Settings
from tests.ledger.scenario import commitment_body, enterprise, government
from verifier.entry import parse_entry
from verifier.hashing import leaf_hash
from verifier.merkle import check_consistency, check_inclusion, root_of_leaves, stored_hash_index


def _raw(settings: Settings) -> Any:
    if settings.database_url:
        import psycopg

        return psycopg.connect(settings.database_url, autocommit=True)
    return sqlite3.connect(settings.sqlite_path, isolation_level=None)


def _sql(settings: Settings, sql: str) -> str:
    return sql.replace("?", "%s") if settings.database_url else sql


def _to_older_layout(settings: Settings) -> int:
    """Move every entry's hashes out of its row into ``lvyue_hashes`` and drop the column, as a ledger made before
    the column existed; return how many hashes moved."""
    db = _raw(settings)
    try:
        rows = db.execute("SELECT idx, nodes FROM lvyue_entries ORDER BY idx").fetchall()
        moved = [
            (stored_hash_index(0, int(idx)) + k, bytes(nodes)[32 * k : 32 * k + 32])
            for idx, nodes in rows
            for k in range(len(bytes(nodes)) // 32)
        ]
        for row in moved:
            db.execute(_sql(settings, "INSERT INTO lvyue_hashes (id, hash) VALUES (?, ?)"), row)
        db.execute("ALTER TABLE lvyue_entries DROP COLUMN nodes")
        if not settings.database_url:
            db.commit()
    finally:
        db.close()
    return len(moved)


def _check_every_proof(ledger: Ledger) -> None:
    size = ledger.size()
    leaves = [leaf_hash(ledger.entry(i)) for i in range(size)]
    root = root_of_leaves(leaves)
    for i in range(size):
        check_inclusion(ledger.prove_inclusion(i, size), size, root, i, leaves[i])
    for old in range(1, size):
        check_consistency(ledger.prove_consistency(old, size), size, root, old, root_of_leaves(leaves[:old]))


def test_an_entry_row_carries_the_hashes_committed_with_it(ledger: Ledger, settings: Settings) -> None:
    authority, maker = government(ledger), enterprise(ledger)
    for _ in range(5):
        maker.submit("commitment.made", str(uuid.uuid4()), commitment_body(authority))
    db = _raw(settings)
    try:
        rows = db.execute("SELECT idx, nodes FROM lvyue_entries ORDER BY idx").fetchall()
        (older,) = db.execute("SELECT COUNT(*) FROM lvyue_hashes").fetchone()
    finally:
        db.close()
    assert older == 0, "a new ledger keeps no hash apart from its entry"
    for idx, nodes in rows:
        completes = (int(idx) + 1 & -(int(idx) + 1)).bit_length() - 1  # subtrees entry idx completes
        assert len(bytes(nodes)) == 32 * (1 + completes)
        assert bytes(nodes)[:32] == leaf_hash(ledger.entry(int(idx)))
    _check_every_proof(ledger)


def test_a_ledger_made_before_entries_carried_their_hashes_opens_and_goes_on(settings: Settings) -> None:
    ledger = Ledger.open(settings)
    authority, maker = government(ledger), enterprise(ledger)
    for _ in range(6):
        maker.submit("commitment.made", str(uuid.uuid4()), commitment_body(authority))
    before = ledger.size()
    ledger.close()
    assert _to_older_layout(settings) >= before

    ledger = Ledger.open(settings)  # adds the column; the older entries' hashes stay in lvyue_hashes
    maker = Party(ledger, maker.key)
    try:
        _check_every_proof(ledger)
        for _ in range(9):  # the new entries' subtrees span old entries and new ones
            maker.submit("commitment.made", str(uuid.uuid4()), commitment_body(authority))
        assert ledger.size() == before + 9
        _check_every_proof(ledger)
        note = ledger.checkpoint()
        assert f"\n{ledger.size()}\n" in note
        parse_entry(ledger.entry(before))  # an entry appended after the change reads back whole
    finally:
        ledger.close()
