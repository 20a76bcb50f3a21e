"""Checkpoints, their log signature, witness cosignatures and witness policies."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from verifier.checkpoint import (
    Checkpoint,
    WitnessVerifier,
    check_witness_policy,
    cosign,
    cosignature_message,
    parse_checkpoint_note,
    sign_checkpoint,
    verify_checkpoint,
    verify_cosignatures,
    witness_verifier_key_string,
)
from verifier.errors import FormatError, VerificationError
from verifier.hashing import EMPTY_ROOT
from verifier.note import Signature, Signer, key_hash, parse_note, sign_note

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "vectors" / "checkpoint.json").read_text("utf-8")
)
MERKLE: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "vectors" / "merkle.json").read_text("utf-8")
)
LOG = VECTORS["log"]
ORIGIN = LOG["origin"]
SIGNER = Signer(ORIGIN, bytes.fromhex(LOG["seed"]))
VKEY = LOG["verifier_key"]
W = VECTORS["witnesses"]
WKEYS = [w["verifier_key"] for w in W]


def _kind(note: str | bytes, vkey: str = VKEY) -> str:
    with pytest.raises(VerificationError) as e:
        verify_checkpoint(note, vkey)
    return e.value.kind


def test_vector_checkpoints() -> None:
    v = VECTORS["checkpoint"]
    cp = Checkpoint(ORIGIN, v["size"], base64.b64decode(v["root"]))
    assert cp.root.hex() == MERKLE["roots"][v["size"]]
    assert cp.to_text() == v["text"] == f"{ORIGIN}\n{v['size']}\n{v['root']}\n"
    assert sign_checkpoint(cp, SIGNER) == v["note"]
    signed = verify_checkpoint(v["note"], VKEY)
    assert signed.checkpoint == cp
    assert signed.cosignatures == ()
    assert signed.text == v["text"]
    e = VECTORS["empty_checkpoint"]
    cp0 = Checkpoint(ORIGIN, 0, EMPTY_ROOT)
    assert cp0.to_text() == e["text"]
    assert sign_checkpoint(cp0, SIGNER) == e["note"]
    assert verify_checkpoint(e["note"].encode(), VKEY).checkpoint.size == 0


def test_vector_cosignatures() -> None:
    c = VECTORS["cosigned"]
    note = VECTORS["checkpoint"]["note"]
    for w, ts in zip(W[:2], c["timestamps"], strict=True):
        note = cosign(note, w["name"], bytes.fromhex(w["seed"]), ts)
    assert note == c["note"]
    signed = verify_checkpoint(note, VKEY)
    assert [s.name for s in signed.cosignatures] == c["witnesses"]
    assert verify_cosignatures(note, WKEYS) == dict(zip(c["witnesses"], c["timestamps"], strict=True))
    assert check_witness_policy(note, WKEYS, 2) == dict(zip(c["witnesses"], c["timestamps"], strict=True))
    with pytest.raises(VerificationError) as e:
        check_witness_policy(note, WKEYS, 3)
    assert (e.value.kind, e.value.expected, e.value.found) == ("cosignature", 3, 2)
    with pytest.raises(VerificationError) as e:
        check_witness_policy(note, WKEYS[2:], 1)
    assert e.value.kind == "cosignature"
    assert check_witness_policy(note, WKEYS[2:], 0) == {}


def test_witness_keys() -> None:
    for w in W:
        pk = bytes.fromhex(w["public_key"])
        assert bytes(nacl.signing.SigningKey(bytes.fromhex(w["seed"])).verify_key) == pk
        assert witness_verifier_key_string(w["name"], pk) == w["verifier_key"]
        wv = WitnessVerifier.from_string(w["verifier_key"])
        assert wv.key_hash == key_hash(w["name"], b"\x04" + pk)
        assert w["verifier_key"].split("+")[1] == wv.key_id
    # base64 may hold "+": the key string splits at the first two only
    assert "+" in W[2]["verifier_key"].split("+", 2)[2]
    with pytest.raises(FormatError):
        WitnessVerifier.from_string(VKEY)  # a 0x01 note key is not a witness key
    with pytest.raises(FormatError):
        witness_verifier_key_string("w", b"\x00" * 31)


def test_cosignature_message_layout() -> None:
    msg = cosignature_message("o\n1\nAAAA\n", 1700000000)
    assert msg == b"cosignature/v1\ntime 1700000000\no\n1\nAAAA\n"
    for bad in [-1, 2**64, True]:
        with pytest.raises(FormatError):
            cosignature_message("o\n", bad)


def test_checkpoint_text_parsing() -> None:
    root64 = VECTORS["checkpoint"]["root"]
    cp = Checkpoint.from_text(f"o\n0\n{root64}\n")
    assert (cp.origin, cp.size, cp.extensions) == ("o", 0, ())
    ext = Checkpoint.from_text(f"o\n12\n{root64}\next one\next two\n")
    assert ext.extensions == ("ext one", "ext two")
    assert ext.to_text() == f"o\n12\n{root64}\next one\next two\n"
    assert Checkpoint.from_text(f"o\n{2**63 - 1}\n{root64}\n").size == 2**63 - 1
    raw = base64.b64decode(root64)
    bad_texts = [
        f"o\n12\n{root64}",  # no final newline
        "o\n12\n",
        f"\n12\n{root64}\n",  # empty origin
        f"o\n012\n{root64}\n",  # leading zero
        f"o\n00\n{root64}\n",
        f"o\n-1\n{root64}\n",
        f"o\n+1\n{root64}\n",
        f"o\n1 \n{root64}\n",
        f"o\n1e3\n{root64}\n",
        f"o\n١٢\n{root64}\n",  # non-ASCII digits
        f"o\n{2**63}\n{root64}\n",
        f"o\n12\n{root64.rstrip('=')}\n",  # unpadded
        f"o\n12\n{base64.b64encode(raw[:31]).decode()}\n",  # 31 bytes
        f"o\n12\n{base64.b64encode(raw + b'x').decode()}\n",  # 33 bytes
        "o\n12\n" + base64.urlsafe_b64encode(bytes([0xFF] * 32)).decode() + "\n",  # URL alphabet
        f"o\n12\n{root64}\n\n",  # empty extension line
    ]
    for bad in bad_texts:
        with pytest.raises(FormatError):
            Checkpoint.from_text(bad)
    for args in [("", 1, raw), ("o", -1, raw), ("o", 1, raw[:31]), ("a\nb", 1, raw), ("o", True, raw)]:
        with pytest.raises(FormatError):
            Checkpoint(*args)


def test_verify_checkpoint_failures() -> None:
    note = VECTORS["checkpoint"]["note"]
    text, sigs = parse_note(note)
    other = Signer(ORIGIN, hashlib.sha256(b"another key").digest())
    assert _kind(note, other.verifier_key()) == "checkpoint_signature"
    foreign = Signer("other.example/log", bytes.fromhex(LOG["seed"]))
    assert _kind(note, foreign.verifier_key()) == "origin"
    assert _kind(note.replace("\n13\n", "\n14\n"), VKEY) == "checkpoint_signature"
    assert _kind(note.replace("\n13\n", "\n013\n"), VKEY) == "malformed"
    assert _kind(note[:-1], VKEY) == "malformed"
    assert _kind(note, "not a key") == "malformed"
    # every bit of the log signature matters
    sig = sigs[0]
    for i in range(len(sig.signature) * 8):
        raw = bytearray(sig.signature)
        raw[i // 8] ^= 1 << (i % 8)
        assert _kind(text + "\n" + Signature(sig.name, sig.key_hash, bytes(raw)).line()) == "checkpoint_signature"
    # the log signature must come first, and only once
    w = W[0]
    cos = cosign(note, w["name"], bytes.fromhex(w["seed"]), 5)
    _, csigs = parse_note(cos)
    assert _kind(text + "\n" + csigs[1].line() + csigs[0].line()) == "checkpoint_signature"
    assert _kind(text + "\n" + csigs[0].line() + csigs[0].line()) == "malformed"
    # a checkpoint signed only by another key
    assert _kind(sign_note(text, [other]), VKEY) == "checkpoint_signature"


def test_sign_checkpoint_needs_the_origin_key() -> None:
    cp = Checkpoint("other.example/log", 1, EMPTY_ROOT)
    with pytest.raises(FormatError):
        sign_checkpoint(cp, SIGNER)


def test_bad_cosignatures() -> None:
    note = VECTORS["cosigned"]["note"]
    text, sigs = parse_note(note)
    w1 = sigs[1]
    for i in range(len(w1.signature) * 8):
        raw = bytearray(w1.signature)
        raw[i // 8] ^= 1 << (i % 8)
        bad = text + "\n" + sigs[0].line() + Signature(w1.name, w1.key_hash, bytes(raw)).line() + sigs[2].line()
        with pytest.raises(VerificationError) as e:
            verify_cosignatures(bad, WKEYS)
        assert e.value.kind == "cosignature"
        # the log signature is untouched, so the checkpoint itself still verifies
        verify_checkpoint(bad, VKEY)
    short = text + "\n" + sigs[0].line() + Signature(w1.name, w1.key_hash, w1.signature[8:]).line()
    with pytest.raises(VerificationError) as e:
        verify_cosignatures(short, WKEYS)
    assert e.value.kind == "cosignature"
    # a cosignature on another checkpoint text
    moved = note.replace("\n13\n", "\n12\n")
    with pytest.raises(VerificationError) as e:
        verify_cosignatures(moved, WKEYS)
    assert e.value.kind == "cosignature"
    # repeated witness line
    twice = text + "\n" + sigs[0].line() + sigs[1].line() + sigs[1].line()
    with pytest.raises(VerificationError) as e:
        check_witness_policy(twice, WKEYS, 1)
    assert e.value.kind == "malformed"
    with pytest.raises(VerificationError) as e:
        verify_cosignatures(note, ["garbage"])
    assert e.value.kind == "malformed"
    with pytest.raises(VerificationError) as e:
        verify_cosignatures(note, WKEYS[0])  # a string, not a list
    assert e.value.kind == "malformed"
    with pytest.raises(VerificationError) as e:
        verify_cosignatures("no note", WKEYS)
    assert e.value.kind == "malformed"
    with pytest.raises(ValueError):
        check_witness_policy(note, WKEYS, -1)


def test_unlisted_witnesses_do_not_count() -> None:
    note = VECTORS["checkpoint"]["note"]
    stranger_seed = hashlib.sha256(b"stranger").digest()
    cos = cosign(note, "stranger.example", stranger_seed, 9)
    assert verify_cosignatures(cos, WKEYS) == {}
    pk = bytes(nacl.signing.SigningKey(stranger_seed).verify_key)
    assert verify_cosignatures(cos, [witness_verifier_key_string("stranger.example", pk)]) == {"stranger.example": 9}
    # the same witness listed twice counts once
    w = W[0]
    one = cosign(note, w["name"], bytes.fromhex(w["seed"]), 1)
    with pytest.raises(VerificationError):
        check_witness_policy(one, [w["verifier_key"], w["verifier_key"]], 2)


def test_cosign_replaces_an_earlier_cosignature_by_the_same_witness() -> None:
    w = W[0]
    seed = bytes.fromhex(w["seed"])
    once = cosign(VECTORS["checkpoint"]["note"], w["name"], seed, 1)
    again = cosign(once, w["name"], seed, 2)
    assert len(parse_note(again)[1]) == 2
    assert verify_cosignatures(again, WKEYS) == {w["name"]: 2}
    with pytest.raises(FormatError):
        cosign(once, w["name"], seed[:31], 3)
    with pytest.raises(FormatError):
        cosign("not a note", w["name"], seed, 3)


def test_parse_checkpoint_note() -> None:
    cp, sigs = parse_checkpoint_note(VECTORS["cosigned"]["note"])
    assert cp.size == VECTORS["checkpoint"]["size"]
    assert len(sigs) == 3
