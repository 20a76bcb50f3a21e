"""Signed notes: key strings, signing, opening, and every malformed form the parser refuses."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from verifier.errors import FormatError, SignatureError, UnknownKeyError
from verifier.note import (
    MAX_NOTE_SIZE,
    MAX_SIGNATURES,
    Signature,
    Signer,
    Verifier,
    b64decode_canonical,
    is_valid_name,
    key_hash,
    open_note,
    parse_note,
    parse_verifier_key,
    sign_note,
    signer_key_string,
    verifier_key_string,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "vectors" / "checkpoint.json").read_text("utf-8")
)
LOG = VECTORS["log"]
SEED = bytes.fromhex(LOG["seed"])
ORIGIN = LOG["origin"]


def _signer(label: str, name: str = "example.com/key") -> Signer:
    return Signer(name, hashlib.sha256(label.encode()).digest())


def test_key_strings_match_vectors() -> None:
    signer = Signer(ORIGIN, SEED)
    assert signer.public_key.hex() == LOG["public_key"]
    assert signer.key_id == LOG["key_hash"]
    assert verifier_key_string(ORIGIN, signer.public_key) == LOG["verifier_key"]
    assert signer.verifier_key() == LOG["verifier_key"]
    assert signer_key_string(ORIGIN, SEED) == LOG["signer_key"]
    digest = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + signer.public_key).digest()
    assert key_hash(ORIGIN, b"\x01" + signer.public_key) == int.from_bytes(digest[:4], "big")


def test_key_strings_round_trip() -> None:
    v = Verifier.from_string(LOG["verifier_key"])
    assert (v.name, v.public_key.hex(), v.key_id) == (ORIGIN, LOG["public_key"], LOG["key_hash"])
    assert v.to_string() == LOG["verifier_key"]
    s = Signer.from_string(LOG["signer_key"])
    assert (s.name, s.key_hash, s.public_key) == (v.name, v.key_hash, v.public_key)
    assert s.verifier() == v
    assert parse_verifier_key(LOG["verifier_key"]) == (ORIGIN, v.key_hash, b"\x01" + v.public_key)


def _replace_part(vkey: str, i: int, value: str) -> str:
    parts = vkey.split("+")
    parts[i] = value
    return "+".join(parts)


def test_verifier_key_refusals() -> None:
    vkey = LOG["verifier_key"]
    name, hash16, key64 = vkey.split("+")
    raw = base64.b64decode(key64)
    cases = [
        "",
        name,
        f"{name}+{hash16}",
        f"{vkey}+extra",
        _replace_part(vkey, 1, hash16.upper()) if hash16 != hash16.upper() else f"{name}+{hash16}0+{key64}",
        _replace_part(vkey, 1, f"{int(hash16, 16) ^ 1:08x}"),  # wrong hash
        _replace_part(vkey, 1, hash16[:7]),
        _replace_part(vkey, 2, key64 + "="),  # not canonical base64
        _replace_part(vkey, 2, key64[:-1]),  # truncated base64
        _replace_part(vkey, 2, base64.b64encode(b"\x02" + raw[1:]).decode()),  # not Ed25519 (and wrong hash)
        _replace_part(vkey, 2, base64.b64encode(raw[:-1]).decode()),  # 31-byte key
        _replace_part(vkey, 0, "bad name"),
        _replace_part(vkey, 0, ""),
    ]
    for bad in cases:
        with pytest.raises(FormatError):
            Verifier.from_string(bad)
    # a key with a correct hash but another algorithm byte
    other = b"\x04" + raw[1:]
    other_vkey = f"{name}+{key_hash(name, other):08x}+{base64.b64encode(other).decode()}"
    parse_verifier_key(other_vkey)
    with pytest.raises(FormatError):
        Verifier.from_string(other_vkey)
    with pytest.raises(FormatError):
        Verifier.from_string(123)  # type: ignore[arg-type]


def test_non_canonical_base64_is_refused() -> None:
    assert b64decode_canonical("AQ==") == b"\x01"
    for bad in ["AR==", "AQ", "AQ=", " AQ==", "AQ==\n", "A Q==", "@@@@", "Ａ"]:
        with pytest.raises(FormatError):
            b64decode_canonical(bad)


def test_signer_key_refusals() -> None:
    skey = LOG["signer_key"]
    parts = skey.split("+")
    for bad in [
        skey.replace("PRIVATE", "private", 1),
        "+".join(parts[1:]),
        "+".join([*parts[:3], f"{int(parts[3], 16) ^ 1:08x}", parts[4]]),
        "+".join([*parts[:4], base64.b64encode(b"\x01" + b"\x00" * 31).decode()]),
        "+".join([*parts[:4], base64.b64encode(b"\x02" + SEED).decode()]),
        LOG["verifier_key"],
    ]:
        with pytest.raises(FormatError):
            Signer.from_string(bad)
    for seed in [b"", SEED[:31], SEED + b"\x00"]:
        with pytest.raises(FormatError):
            Signer("n", seed)
    with pytest.raises(FormatError):
        Signer("has space", SEED)
    with pytest.raises(FormatError):
        verifier_key_string("n", b"\x00" * 31)


def test_names() -> None:
    assert is_valid_name("credit.beichen.gov.cn/lvyue")
    assert is_valid_name("信用中国")
    for bad in ["", "a b", "a+b", "a\tb", "a\nb", "a\u3000b"]:
        assert not is_valid_name(bad)


def test_sign_and_open() -> None:
    a, b = _signer("a", "a.example"), _signer("b", "b.example")
    msg = sign_note("hello\nworld\n", [a, b])
    assert msg.startswith("hello\nworld\n\n— a.example ")
    n = open_note(msg, [a.verifier(), b.verifier()])
    assert n.text == "hello\nworld\n"
    assert [s.name for s in n.sigs] == ["a.example", "b.example"]
    assert n.unverified_sigs == ()
    n = open_note(msg.encode(), [b.verifier()])
    assert [s.name for s in n.sigs] == ["b.example"]
    assert [(s.name, s.key_hash) for s in n.unverified_sigs] == [("a.example", a.key_hash)]
    text, sigs = parse_note(msg)
    assert text == "hello\nworld\n"
    assert sigs[0].line() + sigs[1].line() == msg[len(text) + 1 :]
    assert len(sigs[0].signature) == 64


def test_open_reports_whose_signature_fails() -> None:
    a, b = _signer("a", "a.example"), _signer("b", "b.example")
    msg = sign_note("hello\n", [a, b])
    tampered = "hellO\n" + msg[len("hello\n") :]
    with pytest.raises(SignatureError) as e:
        open_note(tampered, [b.verifier()])
    assert e.value.name == "b.example"
    assert e.value.key_id == b.key_id
    with pytest.raises(UnknownKeyError):
        open_note(msg, [_signer("c").verifier()])
    with pytest.raises(UnknownKeyError):
        open_note(msg, [])


def test_every_bit_flip_of_the_signature_fails() -> None:
    a = _signer("a", "a.example")
    msg = sign_note("checkpoint body\n", [a])
    _, sigs = parse_note(msg)
    sig = sigs[0]
    for i in range(len(sig.signature) * 8):
        raw = bytearray(sig.signature)
        raw[i // 8] ^= 1 << (i % 8)
        bad = "checkpoint body\n\n" + Signature(sig.name, sig.key_hash, bytes(raw)).line()
        with pytest.raises(SignatureError):
            open_note(bad, [a.verifier()])
    # a flipped key hash no longer names the key: nothing verifies
    bad = "checkpoint body\n\n" + Signature(sig.name, sig.key_hash ^ 1, sig.signature).line()
    with pytest.raises(UnknownKeyError):
        open_note(bad, [a.verifier()])


def test_malformed_notes() -> None:
    a = _signer("a", "a.example")
    good = sign_note("text\n", [a])
    sig_line = good.split("\n\n", 1)[1]
    cases = [
        "text\n" + sig_line,  # no blank line
        "text\n\n",  # no signature
        good[:-1],  # no final newline
        good.replace("— ", "-- "),  # ASCII dashes
        good.replace("— ", "—"),  # no space after the dash
        good.replace("a.example ", "a.example  "),  # double space
        good.replace("a.example ", "a example "),
        good.replace("\n", "\r\n"),  # CRLF
        "te\x00xt\n\n" + sig_line,  # control character
        "te\x7fxt\n\n" + sig_line,
        "text\n\n" + sig_line.replace("=", ""),  # unpadded signature
        "text\n\n— a.example AAAAAA==\n",  # signature shorter than 5 bytes
        "text\n\n" + sig_line + "\n",  # blank line inside the signature block
        good + "trailing",
    ]
    for bad in cases:
        with pytest.raises(FormatError):
            open_note(bad, [a.verifier()])
    with pytest.raises(FormatError):
        open_note(b"text\n\n\xff\xfe\n", [a.verifier()])
    with pytest.raises(FormatError):
        open_note(12, [a.verifier()])  # type: ignore[arg-type]


def test_repeated_known_signature_is_refused_unknown_ones_are_merged() -> None:
    a, b = _signer("a", "a.example"), _signer("b", "b.example")
    msg = sign_note("text\n", [a, b])
    text, sigs = parse_note(msg)
    twice = text + "\n" + sigs[0].line() + sigs[0].line() + sigs[1].line()
    with pytest.raises(FormatError):
        open_note(twice, [a.verifier()])
    n = open_note(text + "\n" + sigs[0].line() + sigs[1].line() + sigs[1].line(), [a.verifier()])
    assert len(n.unverified_sigs) == 1


def test_size_and_signature_caps() -> None:
    a = _signer("a", "a.example")
    msg = sign_note("text\n", [a])
    text, sigs = parse_note(msg)
    others = [Signature(f"w{i}", i, b"\x00" * 64).line() for i in range(MAX_SIGNATURES - 1)]
    at_cap = text + "\n" + sigs[0].line() + "".join(others)
    assert len(open_note(at_cap, [a.verifier()]).unverified_sigs) == MAX_SIGNATURES - 1
    over = at_cap + Signature("one-more", 7, b"\x00" * 64).line()
    with pytest.raises(FormatError):
        open_note(over, [a.verifier()])
    big_text = "x" * (MAX_NOTE_SIZE - 200) + "\n"
    big = sign_note(big_text, [a])
    open_note(big, [a.verifier()])
    with pytest.raises(FormatError):
        open_note("y" * 300 + big, [a.verifier()])


def test_sign_note_refusals() -> None:
    a = _signer("a")
    for bad in ["", "\n", "no newline", "blank end\n\n"]:
        with pytest.raises(FormatError):
            sign_note(bad, [a])
    with pytest.raises(FormatError):
        sign_note("text\n", [])
    with pytest.raises(FormatError):
        sign_note("text\n", [a, a])
    with pytest.raises(FormatError):
        sign_note("te\x01xt\n", [a])


def test_ambiguous_verifiers() -> None:
    a = _signer("a", "a.example")
    assert open_note(sign_note("t\n", [a]), [a.verifier(), a.verifier()]).text == "t\n"


def test_verify_refuses_wrong_sizes() -> None:
    a = _signer("a")
    v = a.verifier()
    sig = a.sign(b"m")
    assert v.verify(b"m", sig)
    assert not v.verify(b"m", sig[:63])
    assert not v.verify(b"m", sig + b"\x00")
    assert not v.verify(b"n", sig)
    with pytest.raises(FormatError):
        Verifier("n", b"\x00" * 33)


def test_upper_case_key_hash_is_refused() -> None:
    signer = next(s for s in (_signer(str(i)) for i in range(100)) if any(c in "abcdef" for c in s.key_id))
    name, h, key64 = signer.verifier_key().split("+")
    Verifier.from_string(f"{name}+{h}+{key64}")
    with pytest.raises(FormatError):
        Verifier.from_string(f"{name}+{h.upper()}+{key64}")
