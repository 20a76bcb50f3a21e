"""Tampering with an exported bundle: the verifier names the first bad entry and the right failure kind."""

from __future__ import annotations

import base64

import orjson
import pytest

from tests.tamper.helpers import Built, as_bundle, rechain
from verifier.bundle import verify_bundle
from verifier.checkpoint import Checkpoint, cosign, parse_checkpoint_note, sign_checkpoint, witness_verifier_key_string
from verifier.errors import VerificationError
from verifier.identity import key_id
from verifier.note import Signer
from verifier.replay import RuleFailure
from verifier.statement import public_key_of, sign_statement


def fails(lines: list[bytes], built: Built, **kw: object) -> VerificationError:
    with pytest.raises(VerificationError) as info:
        verify_bundle(as_bundle(lines), built.verifier_key, **kw)  # type: ignore[arg-type]
    return info.value


def entry(built: Built, index: int) -> dict[str, object]:
    value: dict[str, object] = orjson.loads(built.lines[built.entry_line(index)])
    return value


def replace_entry(built: Built, index: int, value: dict[str, object]) -> list[bytes]:
    lines = list(built.lines)
    lines[built.entry_line(index)] = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return lines


def test_clean_bundle_passes(built: Built) -> None:
    summary = verify_bundle(as_bundle(built.lines), built.verifier_key)
    assert summary.entries == built.marks["after_rotation"] + 1
    assert summary.subjects == 5 and summary.contracts == 1 and summary.commitments == 2
    assert summary.checkpoints >= 4


def test_flipped_statement_byte(built: Built) -> None:
    k = built.marks["reported"]
    lines = list(built.lines)
    pos = built.entry_line(k)
    lines[pos] = lines[pos].replace(b'"cdcdcd', b'"cdcdce', 1)
    e = fails(lines, built)
    assert (e.kind, e.index) == ("signature", k)


def test_flipped_signature_byte(built: Built) -> None:
    k = built.marks["confirmed"]
    value = entry(built, k)
    sigs = value["signatures"]
    assert isinstance(sigs, list)
    raw = bytearray(base64.b64decode(sigs[0]["sig"]))
    raw[10] ^= 0x01
    sigs[0]["sig"] = base64.b64encode(bytes(raw)).decode()
    e = fails(replace_entry(built, k, value), built)
    assert (e.kind, e.index) == ("signature", k)


def test_flipped_hash_byte(built: Built) -> None:
    k = 3
    value = entry(built, k)
    prev = str(value["prev"])
    value["prev"] = ("0" if prev[0] != "0" else "1") + prev[1:]
    e = fails(replace_entry(built, k, value), built)
    assert (e.kind, e.index) == ("link", k)


def test_deleted_entry(built: Built) -> None:
    lines = list(built.lines)
    del lines[built.entry_line(4)]
    e = fails(lines, built)
    assert (e.kind, e.index) == ("index", 4)


def test_swapped_entries(built: Built) -> None:
    lines = list(built.lines)
    i, j = built.entry_line(5), built.entry_line(6)
    lines[i], lines[j] = lines[j], lines[i]
    e = fails(lines, built)
    assert (e.kind, e.index) == ("index", 5)


def test_duplicated_entry(built: Built) -> None:
    lines = list(built.lines)
    i = built.entry_line(5)
    lines.insert(i + 1, lines[i])
    e = fails(lines, built)
    assert (e.kind, e.index) == ("index", 6)


def test_inserted_entry(built: Built) -> None:
    lines = list(built.lines)
    lines.insert(built.entry_line(2), lines[built.entry_line(7)])
    e = fails(lines, built)
    assert (e.kind, e.index) == ("index", 2)


def _resign(built: Built, index: int, seed: bytes, actor: str | None = None) -> list[bytes]:
    value = entry(built, index)
    st = value["statement"]
    assert isinstance(st, dict)
    if actor is not None:
        st["actor"] = actor
    pk = public_key_of(seed)
    st["key_id"] = key_id(pk)
    value["signatures"] = [sign_statement(st, st["actor"], seed)]
    return rechain(replace_entry(built, index, value), built.log_seed)


def test_entry_signed_with_a_key_never_bound(built: Built) -> None:
    k = built.marks["after_rotation"]
    e = fails(_resign(built, k, b"\x07" * 32), built)
    assert (e.kind, e.index) == ("unknown_key", k)


def test_entry_signed_with_a_revoked_key(built: Built) -> None:
    k = built.marks["after_rotation"]
    assert k > built.marks["revoked"]
    e = fails(_resign(built, k, built.keys["c_old"].seed), built)
    assert (e.kind, e.index) == ("revoked_key", k)


def test_broken_rule_self_confirmation(built: Built) -> None:
    k = built.marks["confirmed"]
    reporter = built.keys["a"]
    e = fails(_resign(built, k, reporter.seed, actor=reporter.subject), built)
    assert (e.kind, e.index) == ("rule", k)
    assert isinstance(e, RuleFailure) and e.code == "self_confirmation"
    assert e.to_dict()["code"] == "self_confirmation"


def test_rechain_alone_changes_nothing(built: Built) -> None:
    assert rechain(built.lines, built.log_seed) == built.lines


def test_tail_cut_behind_a_checkpoint(built: Built) -> None:
    last = built.marks["after_rotation"]
    lines = [line for line in built.lines if not line.startswith(b'{"index":%d,' % last)]
    e = fails(lines, built)
    assert (e.kind, e.index) == ("truncated", last)


def _checkpoints(built: Built) -> list[tuple[int, int, str]]:
    out = []
    for pos, line in enumerate(built.lines):
        obj = orjson.loads(line)
        if obj.get("kind") == "checkpoint":
            cp, _ = parse_checkpoint_note(obj["note"])
            out.append((pos, cp.size, obj["note"]))
    return out


def test_forked_history(built: Built) -> None:
    pos, size, _note = _checkpoints(built)[2]
    other = sign_checkpoint(
        Checkpoint("test.lvyue.example/log", size, b"\x42" * 32), Signer("test.lvyue.example/log", built.log_seed)
    )
    lines = list(built.lines)
    lines.insert(pos + 1, orjson.dumps({"kind": "checkpoint", "note": other}))
    e = fails(lines, built)
    assert e.kind == "consistency" and e.index == size - 1


def test_checkpoint_with_a_wrong_root(built: Built) -> None:
    pos, size, _note = _checkpoints(built)[2]
    other = sign_checkpoint(
        Checkpoint("test.lvyue.example/log", size, b"\x42" * 32), Signer("test.lvyue.example/log", built.log_seed)
    )
    lines = list(built.lines)
    lines[pos] = orjson.dumps({"kind": "checkpoint", "note": other})
    e = fails(lines, built)
    assert (e.kind, e.index) == ("root", size - 1)


def test_edited_checkpoint(built: Built) -> None:
    pos, size, note = _checkpoints(built)[1]
    edited = note.replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
    lines = list(built.lines)
    lines[pos] = orjson.dumps({"kind": "checkpoint", "note": edited})
    assert fails(lines, built).kind == "checkpoint_signature"


def test_cosignature_policy(built: Built) -> None:
    pos, _size, note = _checkpoints(built)[-1]
    known_seed, unknown_seed = b"\x11" * 32, b"\x22" * 32
    known = witness_verifier_key_string("witness.example/a", public_key_of(known_seed))
    lines = list(built.lines)
    lines[pos] = orjson.dumps(
        {"kind": "checkpoint", "note": cosign(note, "witness.example/b", unknown_seed, 1_700_000_000)}
    )
    e = fails(lines, built, witnesses=[known], witness_threshold=1)
    assert e.kind == "cosignature"
    lines[pos] = orjson.dumps(
        {"kind": "checkpoint", "note": cosign(note, "witness.example/a", known_seed, 1_700_000_000)}
    )
    summary = verify_bundle(as_bundle(lines), built.verifier_key, witnesses=[known], witness_threshold=1)
    assert summary.witnesses == {"witness.example/a": 1_700_000_000}


def test_keys_line(built: Built) -> None:
    lines = list(built.lines)
    keys = orjson.loads(lines[-1])
    keys["keys"][-1]["revoked_at"] = 1
    lines[-1] = orjson.dumps(keys)
    assert fails(lines, built).kind == "keys"


def test_other_log_key(built: Built) -> None:
    from verifier.note import verifier_key_string

    other = verifier_key_string("test.lvyue.example/log", public_key_of(b"\x05" * 32))
    with pytest.raises(VerificationError) as info:
        verify_bundle(as_bundle(built.lines), other)
    assert info.value.kind == "origin"


def test_missing_header_and_keys(built: Built) -> None:
    assert fails(built.lines[1:], built).kind == "truncated"
    assert fails(built.lines[:-1], built).kind == "truncated"
    assert fails([], built).kind == "truncated"


def test_malformed_entry(built: Built) -> None:
    lines = list(built.lines)
    pos = built.entry_line(2)
    lines[pos] = lines[pos].replace(b'{"index":2,', b'{"index":2, ', 1)
    e = fails(lines, built)
    assert (e.kind, e.index) == ("malformed", 2)
