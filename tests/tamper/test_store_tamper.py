"""Tampering with the stored bytes in the database, then exporting afresh: the verifier still catches it."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import pytest

from ledger.client import sign
from ledger.errors import VersionConflict
from ledger.parties import register
from ledger.service import Ledger
from ledger.settings import Settings
from tests.tamper.helpers import as_bundle, export
from verifier.bundle import verify_bundle
from verifier.errors import VerificationError
from verifier.identity import make_credit_code


def _small(led: Ledger) -> tuple[Any, Any, str]:
    a = register(led, make_credit_code("91120113MA0000011"), "enterprise", "甲公司")
    b = register(led, make_credit_code("11120113MB0000037"), "government", "乙局")
    led.checkpoint()
    mid = str(uuid.uuid4())
    body = {
        "kind": "approval_substitute",
        "authority": b.subject,
        "content": "按期补交材料",
        "made_on": "2026-01-10",
        "deadline": "2027-01-01",
        "related": None,
    }
    a.submit("commitment.made", mid, body)
    led.checkpoint()
    return a, b, mid


def _update_entry(settings: Settings, index: int, old: bytes, new: bytes) -> None:
    """Rewrite entry ``index``'s stored bytes behind the ledger's back."""
    if settings.database_url:
        import psycopg

        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            row = conn.execute("SELECT notification_id FROM lvyue_entries WHERE idx = %s", (index,)).fetchone()
            assert row is not None
            state = conn.execute("SELECT state FROM stored_events WHERE notification_id = %s", (row[0],)).fetchone()
            assert state is not None and old in bytes(state[0])
            conn.execute(
                "UPDATE stored_events SET state = %s WHERE notification_id = %s",
                (bytes(state[0]).replace(old, new, 1), row[0]),
            )
        return
    db = sqlite3.connect(settings.sqlite_path)
    try:
        (nid,) = db.execute("SELECT notification_id FROM lvyue_entries WHERE idx = ?", (index,)).fetchone()
        (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = ?", (nid,)).fetchone()
        assert old in bytes(state)
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (bytes(state).replace(old, new, 1), nid))
        db.commit()
    finally:
        db.close()


def _verify(led: Ledger) -> None:
    verify_bundle(as_bundle(export(led)), led.verifier_key)


def test_clean_ledger_passes(ledger: Ledger) -> None:
    _small(ledger)
    _verify(ledger)


def test_statement_edited_in_the_database(ledger: Ledger, settings: Settings) -> None:
    _small(ledger)
    index = ledger.size() - 1
    _update_entry(settings, index, "按期补交材料".encode(), "按时补交材料".encode())
    with pytest.raises(VerificationError) as info:
        _verify(ledger)
    assert (info.value.kind, info.value.index) == ("signature", index)


def test_hash_edited_in_the_database(ledger: Ledger, settings: Settings) -> None:
    _small(ledger)
    data = ledger.entry(2)
    prev = data.split(b'"prev":"', 1)[1][:64]
    flipped = (b"0" if prev[:1] != b"0" else b"1") + prev[1:]
    _update_entry(settings, 2, prev, flipped)
    with pytest.raises(VerificationError) as info:
        _verify(ledger)
    assert (info.value.kind, info.value.index) == ("link", 2)


def test_signer_edited_in_the_database(ledger: Ledger, settings: Settings) -> None:
    a, _b, _mid = _small(ledger)
    index = ledger.size() - 1
    other = b'"key_id":"ed25519:0000000000000000"'
    _update_entry(settings, index, f'"key_id":"{a.key.key_id}"'.encode(), other)
    with pytest.raises(VerificationError) as info:
        _verify(ledger)
    assert info.value.index == index
    assert info.value.kind in ("unknown_key", "malformed")


def test_replayed_statement_is_refused_and_changes_nothing(ledger: Ledger) -> None:
    a, b, _mid = _small(ledger)
    mid = str(uuid.uuid4())
    body = {
        "kind": "voluntary_disclosure",
        "authority": b.subject,
        "content": "主动公示",
        "made_on": "2026-01-10",
        "deadline": "2027-01-01",
        "related": None,
    }
    signed = sign(a.key, ledger.origin, "commitment.made", mid, 1, body)
    ledger.submit(signed)
    size = ledger.size()
    before = export(ledger)
    with pytest.raises(VersionConflict) as info:
        ledger.submit(signed)
    assert info.value.status == 409
    assert ledger.size() == size
    assert export(ledger) == before
    _verify(ledger)
