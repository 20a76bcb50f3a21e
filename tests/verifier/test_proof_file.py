"""tlog-proof files: layout, known answer, and every failure kind."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from verifier.canonical import canonicalize
from verifier.checkpoint import Checkpoint, sign_checkpoint
from verifier.errors import FormatError, VerificationError
from verifier.merkle import MemoryHashStore, prove_inclusion
from verifier.note import Signer
from verifier.proof_file import PROOF_HEADER, check_proof_file, format_proof_file, parse_proof_file

ROOT = Path(__file__).resolve().parents[2] / "docs" / "vectors"
VECTORS: dict[str, Any] = json.loads((ROOT / "checkpoint.json").read_text("utf-8"))
MERKLE: dict[str, Any] = json.loads((ROOT / "merkle.json").read_text("utf-8"))
LOG = VECTORS["log"]
VKEY = LOG["verifier_key"]
SIGNER = Signer(LOG["origin"], bytes.fromhex(LOG["seed"]))
ENTRIES = [e.encode() for e in MERKLE["entries"]]
PF = VECTORS["proof_file"]


@pytest.fixture(scope="module")
def store() -> MemoryHashStore:
    s = MemoryHashStore()
    for e in ENTRIES:
        s.append_entry(e)
    return s


def _kind(text: str | bytes, vkey: str = VKEY) -> str:
    with pytest.raises(VerificationError) as e:
        check_proof_file(text, vkey)
    return e.value.kind


def test_vector(store: MemoryHashStore) -> None:
    idx = PF["index"]
    size = VECTORS["checkpoint"]["size"]
    text = format_proof_file(ENTRIES[idx], idx, prove_inclusion(size, idx, store.read), VECTORS["cosigned"]["note"])
    assert text == PF["text"]
    assert text.startswith(f"{PROOF_HEADER}\nextra {base64.b64encode(ENTRIES[idx]).decode()}\nindex {idx}\n")
    pf = parse_proof_file(text)
    assert (pf.index, pf.entry_bytes, pf.checkpoint_note) == (idx, ENTRIES[idx], VECTORS["cosigned"]["note"])
    result = check_proof_file(text, VKEY)
    assert (result.index, result.entry_bytes) == (idx, ENTRIES[idx])
    assert result.checkpoint.checkpoint.size == size
    assert len(result.checkpoint.cosignatures) == 2
    assert check_proof_file(text.encode(), VKEY).index == idx


def test_every_entry_under_every_checkpoint(store: MemoryHashStore) -> None:
    for size in range(1, len(ENTRIES) + 1):
        note = sign_checkpoint(Checkpoint(LOG["origin"], size, store.root(size)), SIGNER)
        for idx in range(size):
            text = format_proof_file(ENTRIES[idx], idx, prove_inclusion(size, idx, store.read), note)
            assert check_proof_file(text, VKEY).index == idx
            if idx + 1 < size:
                wrong = format_proof_file(ENTRIES[idx], idx, prove_inclusion(size, idx + 1, store.read), note)
                assert _kind(wrong) == "inclusion"


def test_every_bit_flip_of_the_proof_fails() -> None:
    pf = parse_proof_file(PF["text"])
    for i, h in enumerate(pf.proof):
        for bit in range(256):
            raw = bytearray(h)
            raw[bit // 8] ^= 1 << (bit % 8)
            proof = [*pf.proof[:i], bytes(raw), *pf.proof[i + 1 :]]
            assert _kind(format_proof_file(pf.entry_bytes, pf.index, proof, pf.checkpoint_note)) == "inclusion"


def test_failure_kinds(store: MemoryHashStore) -> None:
    pf = parse_proof_file(PF["text"])
    note = pf.checkpoint_note

    def build(entry: bytes = pf.entry_bytes, index: int = pf.index, proof: Any = None, cp: str = note) -> str:
        return format_proof_file(entry, index, list(pf.proof) if proof is None else proof, cp)

    # the entry bytes changed (still canonical, same index): the leaf no longer matches
    other = canonicalize({"index": pf.index, "payload": "forged"})
    assert _kind(build(entry=other)) == "inclusion"
    # entry index differs from the index line
    assert _kind(build(index=pf.index + 1)) == "inclusion"
    # proof for an index outside the checkpoint
    big = canonicalize({"index": 99, "payload": "x"})
    assert _kind(build(entry=big, index=99)) == "inclusion"
    # a shorter or longer proof
    assert _kind(build(proof=list(pf.proof)[:-1])) == "inclusion"
    assert _kind(build(proof=[*pf.proof, pf.proof[0]])) == "inclusion"
    # entry bytes that are not canonical JSON, or without an integer index
    assert _kind(build(entry=b'{"index": 5, "payload": "entry 5"}')) == "malformed"
    assert _kind(build(entry=canonicalize({"payload": "no index"}))) == "malformed"
    assert _kind(build(entry=canonicalize([5]))) == "malformed"
    assert _kind(build(entry=canonicalize({"index": "5"}))) == "malformed"
    # checkpoint signed by another key, or for another log
    other_key = Signer(LOG["origin"], hashlib.sha256(b"other").digest()).verifier_key()
    assert _kind(PF["text"], other_key) == "checkpoint_signature"
    foreign = Signer("other.example/log", bytes.fromhex(LOG["seed"]))
    assert _kind(PF["text"], foreign.verifier_key()) == "origin"
    forged = sign_checkpoint(Checkpoint(LOG["origin"], 13, bytes(32)), foreign.__class__(LOG["origin"], bytes(32)))
    assert _kind(build(cp=forged)) == "checkpoint_signature"
    # tampered checkpoint size
    assert _kind(build(cp=note.replace("\n13\n", "\n14\n"))) == "checkpoint_signature"


def test_malformed_files() -> None:
    text = PF["text"]
    head, _, note = text.partition("\n\n")
    lines = head.split("\n")
    cases = [
        "",
        text.replace(PROOF_HEADER, "c2sp.org/tlog-proof@v2"),
        text.replace("\nextra ", "\nExtra "),
        "\n".join([lines[0], *lines[2:]]) + "\n\n" + note,  # no extra line
        "\n".join([lines[0], lines[2], lines[1], *lines[3:]]) + "\n\n" + note,  # swapped
        text.replace("\nindex 5\n", "\nindex 05\n"),
        text.replace("\nindex 5\n", "\nindex -5\n"),
        text.replace("\nindex 5\n", "\nindex 5 \n"),
        "\n".join([*lines[:3], lines[3].rstrip("=")]) + "\n\n" + note,  # unpadded hash
        "\n".join([*lines[:3], base64.b64encode(b"\x00" * 31).decode()]) + "\n\n" + note,
        "\n".join([*lines[:3], *lines[3:], ""]) + "\n\n" + note,  # blank hash line
        head,  # no checkpoint
        head + "\n\n",
        head + "\n\n" + note.replace("— ", "- "),
        "\n".join([lines[0], "extra ", *lines[2:]]) + "\n\n" + note,  # empty extra
        "\n".join([*lines[:3], *([lines[3]] * 64)]) + "\n\n" + note,  # too long
    ]
    for bad in cases:
        assert _kind(bad) == "malformed", bad
        with pytest.raises(FormatError):
            parse_proof_file(bad)
    assert _kind(b"\xff\xfe") == "malformed"
    assert _kind(PF["text"], "not a key") == "malformed"


def test_format_refusals() -> None:
    note = VECTORS["checkpoint"]["note"]
    for args in [
        (b"", 0, [], note),
        (b"x", -1, [], note),
        (b"x", 0, [b"\x00" * 31], note),
        (b"x", 0, [bytes(32)] * 64, note),
        (b"x", 0, [], "not a note"),
    ]:
        with pytest.raises(FormatError):
            format_proof_file(*args)
