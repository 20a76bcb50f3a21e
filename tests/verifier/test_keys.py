"""Key history: validity window b < i <= r, unknown and revoked keys, the bundle's keys line."""

from __future__ import annotations

import base64

import pytest

from verifier.errors import FormatError, RuleViolation, UnknownKeyError
from verifier.identity import key_id
from verifier.keys import KeyHistory, KeyNotValidError
from verifier.statement import public_key_of

S = "91350100M000100Y43"
T = "914403001922038216"
PK1 = public_key_of(bytes(32))
PK2 = public_key_of(bytes([1]) * 32)
K1 = key_id(PK1)
K2 = key_id(PK2)


def _history() -> KeyHistory:
    h = KeyHistory()
    h.bind(S, K1, PK1, 0)
    h.bind(T, K1, PK1, 0)
    h.bind(S, K2, PK2, 5)
    h.revoke(S, K1, 7)
    return h


def test_valid_window() -> None:
    h = _history()
    with pytest.raises(KeyNotValidError) as e:
        h.key_at(S, K1, 0)  # the binding entry itself cannot use the key
    assert e.value.reason == "unknown_key"
    assert h.key_at(S, K1, 1) == PK1
    assert h.key_at(S, K1, 7) == PK1  # the revoking entry may still be signed with it
    with pytest.raises(UnknownKeyError) as e2:
        h.key_at(S, K1, 8)
    assert isinstance(e2.value, KeyNotValidError)
    assert e2.value.reason == "revoked_key"
    assert e2.value.key_id == K1
    assert e2.value.name == S
    assert h.key_at(S, K2, 6) == PK2
    with pytest.raises(KeyNotValidError) as e3:
        h.key_at(S, K2, 5)
    assert e3.value.reason == "unknown_key"
    assert h.key_at(T, K1, 100) == PK1  # another subject's binding of the same key is independent


def test_never_bound() -> None:
    h = _history()
    with pytest.raises(KeyNotValidError) as e:
        h.key_at(T, K2, 10)
    assert e.value.reason == "unknown_key"
    assert not h.is_valid(T, K2, 10)
    assert not h.is_bound(T, K2)


def test_is_valid_and_is_bound() -> None:
    h = _history()
    assert h.is_valid(S, K1, 7)
    assert not h.is_valid(S, K1, 8)
    assert not h.is_valid(S, K1, 0)
    assert h.is_bound(S, K1)
    assert [r.key_id for r in h.keys_of(S)] == [K1, K2]
    assert len(h) == 3


def test_revoke_errors() -> None:
    h = _history()
    with pytest.raises(KeyNotValidError) as e:
        h.revoke(S, K1, 9)
    assert e.value.reason == "revoked_key"
    with pytest.raises(KeyNotValidError) as e:
        h.revoke(T, K2, 9)
    assert e.value.reason == "unknown_key"


def test_bind_errors() -> None:
    h = _history()
    with pytest.raises(RuleViolation) as e:
        h.bind(S, K1, PK1, 10)
    assert e.value.code == "key_already_bound"
    with pytest.raises(FormatError):
        h.bind(T, K2, PK1, 10)
    with pytest.raises(FormatError):
        h.bind(T, K2, PK2[:31], 10)


def test_records_shape_and_order() -> None:
    h = _history()
    records = h.records()
    assert records == [
        {
            "subject": S,
            "key_id": K1,
            "public_key": base64.b64encode(PK1).decode(),
            "bound_at": 0,
            "revoked_at": 7,
        },
        {
            "subject": T,
            "key_id": K1,
            "public_key": base64.b64encode(PK1).decode(),
            "bound_at": 0,
            "revoked_at": None,
        },
        {
            "subject": S,
            "key_id": K2,
            "public_key": base64.b64encode(PK2).decode(),
            "bound_at": 5,
            "revoked_at": None,
        },
    ]
    assert KeyHistory().records() == []
