"""Receipts: message layout, known answer, and refusals."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from verifier.errors import FormatError, VerificationError
from verifier.hashing import entry_hash
from verifier.note import Signer
from verifier.receipt import make_receipt, receipt_message, verify_receipt

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "vectors" / "receipt.json").read_text("utf-8")
)
MERKLE: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "vectors" / "merkle.json").read_text("utf-8")
)
SEED = bytes.fromhex(VECTORS["seed"])
VKEY = VECTORS["verifier_key"]


def _kind(receipt: Any, vkey: str = VKEY) -> str:
    with pytest.raises(VerificationError) as e:
        verify_receipt(receipt, vkey)
    return e.value.kind


def test_vector() -> None:
    v = VECTORS
    entry = MERKLE["entries"][v["index"]].encode()
    assert entry_hash(entry).hex() == v["entry_hash"]
    msg = receipt_message(v["origin"], v["index"], v["entry_hash"])
    assert msg == v["message"].encode()
    assert msg == f"lvyue/receipt/v1\n{v['origin']}\n{v['index']}\n{v['entry_hash']}\n".encode()
    receipt = make_receipt(v["origin"], v["index"], bytes.fromhex(v["entry_hash"]), SEED)
    assert receipt == v["receipt"]
    verify_receipt(v["receipt"], VKEY)
    assert Signer(v["origin"], SEED).verifier_key() == VKEY


def test_tampering_is_detected() -> None:
    good = VECTORS["receipt"]
    changes: list[tuple[str, Any]] = [
        ("index", good["index"] + 1),
        ("entry_hash", "0" * 64),
        ("entry_hash", good["entry_hash"][::-1]),
    ]
    for member, value in changes:
        bad = dict(good, **{member: value})
        assert _kind(bad) == "signature"
    sig = base64.b64decode(good["signature"])
    for i in range(len(sig) * 8):
        raw = bytearray(sig)
        raw[i // 8] ^= 1 << (i % 8)
        assert _kind(dict(good, signature=base64.b64encode(bytes(raw)).decode())) == "signature"
    other = Signer(VECTORS["origin"], hashlib.sha256(b"other").digest()).verifier_key()
    assert _kind(good, other) == "signature"
    foreign = Signer("other.example/log", SEED).verifier_key()
    assert _kind(good, foreign) == "origin"


def test_malformed_receipts() -> None:
    good = VECTORS["receipt"]
    sig = base64.b64decode(good["signature"])
    bad_receipts: list[Any] = [
        [],
        "receipt",
        {k: v for k, v in good.items() if k != "signature"},
        dict(good, extra=1),
        dict(good, index=-1),
        dict(good, index="5"),
        dict(good, index=True),
        dict(good, entry_hash=good["entry_hash"].upper()),
        dict(good, entry_hash=good["entry_hash"][:-2]),
        dict(good, signature=good["signature"].rstrip("=")),
        dict(good, signature=base64.b64encode(sig[:63]).decode()),
        dict(good, signature=base64.b64encode(sig + b"\x00").decode()),
        dict(good, signature=None),
        dict(good, origin="with space"),
        dict(good, origin=""),
    ]
    for bad in bad_receipts:
        assert _kind(bad) == "malformed", bad
    assert _kind(copy.deepcopy(good), "garbage") == "malformed"
    with pytest.raises(VerificationError) as e:
        verify_receipt(dict(good, signature="!"), VKEY)
    assert e.value.index == good["index"]


def test_message_and_make_refusals() -> None:
    h = "ab" * 32
    for args in [("", 1, h), ("a b", 1, h), ("o\n", 1, h), ("o", -1, h), ("o", True, h), ("o", 1, h[:-1])]:
        with pytest.raises(FormatError):
            receipt_message(*args)
    with pytest.raises(FormatError):
        make_receipt("o", 1, b"\x00" * 31, SEED)
    with pytest.raises(FormatError):
        make_receipt("o", 1, b"\x00" * 32, SEED[:31])
