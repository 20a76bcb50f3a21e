"""The recorder's append on each backend: a write refused by the database leaves no trace and no stuck
transaction (on PostgreSQL the append is pipelined, so the refusal comes back with the commit)."""

from __future__ import annotations

import io
import sqlite3
import uuid
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.errors import BadSignature
from ledger.parties import Party
from ledger.service import Ledger, _Prepared
from ledger.settings import Settings
from ledger.store.sqlite import _LedgerSQLitePool
from tests.ledger.scenario import commitment_body, enterprise, government
from verifier.bundle import verify_bundle
from verifier.entry import parse_entry


def _prepared(ledger: Ledger, signed: dict[str, object]) -> _Prepared:
    checked = ledger._check_each([signed], all_or_nothing=True)
    assert isinstance(checked[0], _Prepared)
    return checked[0]


def _verifies(ledger: Ledger) -> int:
    out = io.BytesIO()
    ledger.export(out)
    return verify_bundle(out.getvalue().splitlines(), ledger.verifier_key, workers=1).entries


def test_a_version_taken_in_the_database_refuses_the_append_and_the_store_goes_on(ledger: Ledger) -> None:
    authority, maker = government(ledger), enterprise(ledger)
    pending = _prepared(ledger, maker.statement("commitment.made", str(uuid.uuid4()), commitment_body(authority)))
    ledger.store.append([pending.pending])
    size = ledger.store.size()
    other = _prepared(ledger, maker.statement("commitment.made", str(uuid.uuid4()), commitment_body(authority)))
    with pytest.raises(IntegrityError):
        ledger.store.append([other.pending, pending.pending])  # the second one's version is taken
    assert ledger.store.size() == size, "nothing of the refused batch may be stored"
    for _ in range(3):
        maker.submit("commitment.made", str(uuid.uuid4()), commitment_body(authority))
    assert ledger.store.size() == size + 3
    assert _verifies(ledger) == size + 3


def test_a_refusal_just_before_the_commit_rolls_back_and_the_store_goes_on(ledger: Ledger) -> None:
    authority, maker = government(ledger), enterprise(ledger)
    pending = _prepared(ledger, maker.statement("commitment.made", str(uuid.uuid4()), commitment_body(authority)))
    size = ledger.store.size()
    seen: list[int] = []

    def refuse(appended: list[object]) -> None:
        seen.append(len(appended))
        raise BadSignature("refused before the commit", code="bad_signature")

    with pytest.raises(BadSignature):
        ledger.store.append([pending.pending], before_commit=refuse)
    assert seen == [1]
    assert ledger.store.size() == size
    appended = ledger.store.append([pending.pending])  # the same statement, now accepted at the same index
    assert appended[0].index == size
    assert _verifies(ledger) == size + 1


def test_the_received_time_is_now_in_the_entry_form() -> None:
    from datetime import UTC, datetime, timedelta

    from ledger.store.chain import received_now
    from verifier.statement import check_time

    before = datetime.now(UTC) - timedelta(milliseconds=1)  # the clocks round and truncate differently
    stamps = [received_now() for _ in range(1000)]
    after = datetime.now(UTC) + timedelta(milliseconds=1)
    for stamp in stamps:
        assert len(stamp) == len("2026-01-01T00:00:00.000000Z")
        assert before <= check_time(stamp) <= after


def test_sqlite_appends_use_the_recorders_own_connection_closed_with_the_ledger(tmp_path: Path) -> None:
    # SQLite whichever database the other tests run on: this is the SQLite recorder's connection.
    ledger = Ledger.open(Settings(data_dir=tmp_path / "data", database_url=None, origin="test.lvyue.example/log"))
    pool = ledger.store.datastore.pool
    assert isinstance(pool, _LedgerSQLitePool)
    authority, maker = government(ledger), enterprise(ledger)
    maker.submit("commitment.made", str(uuid.uuid4()), commitment_body(authority))
    own = pool.appender()
    assert pool.appender() is own, "every append of the process uses the one connection"
    raw = own._sqlite_conn
    assert raw.execute("SELECT COUNT(*) FROM lvyue_entries").fetchone()[0] == ledger.size()
    ledger.close()
    with pytest.raises(sqlite3.ProgrammingError):
        raw.execute("SELECT 1")


def _page_size(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA page_size").fetchone()[0])


def test_a_new_sqlite_ledger_file_has_small_pages_and_an_older_file_keeps_its_own(tmp_path: Path) -> None:
    from ledger.store.sqlite import PAGE_SIZE

    new = Settings(data_dir=tmp_path / "new", database_url=None, origin="test.lvyue.example/log")
    ledger = Ledger.open(new)
    ledger.close()
    assert _page_size(new.sqlite_path) == PAGE_SIZE != 4096

    # A file made with SQLite's default page size (as ledgers made before were) is opened as it is.
    old = Settings(data_dir=tmp_path / "old", database_url=None, origin="test.lvyue.example/log")
    old.data_dir.mkdir(parents=True)
    with sqlite3.connect(old.sqlite_path) as db:
        db.execute("PRAGMA page_size=4096")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE made_before (x INTEGER)")
    ledger = Ledger.open(old)
    authority, maker = government(ledger), enterprise(ledger)
    maker.submit("commitment.made", str(uuid.uuid4()), commitment_body(authority))
    assert _verifies(ledger) == ledger.size()
    ledger.close()
    assert _page_size(old.sqlite_path) == 4096


def test_sqlite_appends_by_two_connections_in_turn_chain_onto_each_others_entries(tmp_path: Path) -> None:
    # Each ledger object has its own append connection; each must see the other's entries before chaining on.
    settings = Settings(data_dir=tmp_path / "data", database_url=None, origin="test.lvyue.example/log")
    first = Ledger.open(settings)
    second = Ledger.open(settings)
    try:
        authority, maker = government(first), enterprise(first)
        other = Party(second, maker.key)
        for turn in range(12):
            party = maker if turn % 3 else other  # two in a row by one connection, then one by the other
            party.submit("commitment.made", str(uuid.uuid4()), commitment_body(authority))
            if turn == 7:
                second.checkpoint()  # a write of another kind by the other ledger's connections
        assert first.size() == second.size()
        assert _verifies(first) == first.size()
        heads = {int(i): bytes(h) for i, h in first.store._rows("SELECT idx, hash FROM lvyue_entries")}
        for index in range(1, first.size()):
            assert parse_entry(first.entry(index)).prev == heads[index - 1].hex(), f"entry {index} is not chained"
    finally:
        first.close()
        second.close()
