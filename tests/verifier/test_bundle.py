"""verifier.replay and verifier.bundle against the known-answer bundle in docs/vectors/bundle.json."""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from verifier.bundle import verify_bundle
from verifier.entry import encode_entry, parse_entry
from verifier.errors import VerificationError
from verifier.parallel import check_chunk
from verifier.replay import LogState, RuleFailure, prepare, replay
from verifier.statement import signed_message

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "docs" / "vectors" / "bundle.json").read_text())
LOG_KEY: str = VECTORS["log_key"]
LINES: list[str] = VECTORS["bundle"]


def _entries() -> list[bytes]:
    return [line.encode() for line in LINES if line.startswith('{"index":')]


def _pos(lines: list[str], index: int) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(f'{{"index":{index},'))


def _edit(case: dict[str, Any]) -> list[str]:
    lines = list(LINES)
    edit, k = case["edit"], case["entry"]
    if edit == "delete_entry":
        del lines[_pos(lines, k)]
    elif edit == "duplicate_entry":
        i = _pos(lines, k)
        lines.insert(i + 1, lines[i])
    elif edit == "swap_entries":
        i, j = _pos(lines, k), _pos(lines, k + 1)
        lines[i], lines[j] = lines[j], lines[i]
    elif edit == "flip_prev":
        i = _pos(lines, k)
        value = json.loads(lines[i])
        value["prev"] = ("0" if value["prev"][0] != "0" else "1") + value["prev"][1:]
        lines[i] = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    elif edit == "drop_last_line":
        lines.pop()
    else:  # pragma: no cover - vector file error
        raise AssertionError(edit)
    return lines


def test_vector_summary() -> None:
    summary = verify_bundle([line.encode() + b"\n" for line in LINES], LOG_KEY)
    got = summary.to_dict()
    got.pop("seconds")
    assert got == VECTORS["summary"]


@pytest.mark.parametrize("workers", [0, 1, 2, None])
def test_vector_summary_any_worker_count(workers: int | None) -> None:
    summary = verify_bundle([line.encode() for line in LINES], LOG_KEY, workers=workers, chunk=4)
    assert summary.entries == VECTORS["summary"]["entries"]


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: f"{c['edit']}-{c['entry']}")
def test_vector_cases(case: dict[str, Any]) -> None:
    with pytest.raises(VerificationError) as info:
        verify_bundle([line.encode() for line in _edit(case)], LOG_KEY)
    assert (info.value.kind, info.value.index) == (case["kind"], case["index"])
    assert info.value.to_dict()["ok"] is False


def test_replay_state() -> None:
    state = replay(_entries(), LOG_KEY)
    assert state.size == VECTORS["summary"]["entries"]
    import base64

    assert base64.b64encode(state.root()).decode() == VECTORS["summary"]["root"]
    keys_line = json.loads(LINES[-1])
    assert state.key_records() == keys_line["keys"]
    assert len(state.keys) == VECTORS["summary"]["keys"]


def test_apply_failure_leaves_state_unchanged() -> None:
    entries = _entries()
    state = LogState(LOG_KEY)
    for data in entries[:6]:
        state.apply(data)
    root, size = state.root(), state.size
    with pytest.raises(VerificationError) as info:
        state.apply(entries[7])
    assert (info.value.kind, info.value.index) == ("index", 6)
    assert (state.root(), state.size) == (root, size)
    state.apply(entries[6])
    assert state.size == 7


def test_signed_message_cut_from_entry_bytes() -> None:
    for data in _entries():
        p = prepare(data)
        assert p.error is None and p.signed is not None
        assert p.message == signed_message(parse_entry(data).statement)


def test_prepare_reports_malformed_without_raising() -> None:
    p = prepare(b'{"index":0}', 0)
    assert p.error is not None and p.error.kind == "malformed" and p.entry is None
    p = prepare(b"not json", 3)
    assert p.error is not None and p.error.index == 3


def test_presigned_results_used_only_for_the_right_key() -> None:
    entries = _entries()
    state = LogState(LOG_KEY)
    state.apply(entries[0])
    # a wrong precomputed "valid" for another public key is ignored: the signature is verified again
    state.apply(entries[1], {0: (b"\x00" * 32, False)})
    # a precomputed "invalid" for the real key is believed
    pk = state.public_key(*_signer(entries[2]), 2)
    assert pk is not None
    with pytest.raises(VerificationError) as info:
        state.apply(entries[2], {0: (pk, False)})
    assert (info.value.kind, info.value.index) == ("signature", 2)


def _signer(data: bytes) -> tuple[str, str]:
    e = parse_entry(data)
    return str(e.signatures[0]["signer"]), str(e.signatures[0]["key_id"])


def test_wrong_log_key_at_genesis() -> None:
    from verifier.note import verifier_key_string
    from verifier.statement import public_key_of

    other = verifier_key_string(VECTORS["summary"]["origin"], public_key_of(b"\x09" * 32))
    with pytest.raises(VerificationError) as info:
        LogState(other).apply(_entries()[0])
    assert (info.value.kind, info.value.index) == ("signature", 0)


def test_bad_inputs() -> None:
    with pytest.raises(VerificationError) as info:
        LogState("not a key")
    assert info.value.kind == "malformed"
    with pytest.raises(ValueError):
        verify_bundle([], LOG_KEY, witness_threshold=1)
    with pytest.raises(VerificationError) as info:
        verify_bundle([b"[1, 2]"], LOG_KEY)
    assert info.value.kind == "malformed"
    with pytest.raises(VerificationError) as info:
        verify_bundle([b'{"kind":"header","format":"other"}'], LOG_KEY)
    assert info.value.kind == "malformed"
    lines = [line.encode() for line in LINES]
    lines.insert(3, b'{"kind":"mystery"}')
    with pytest.raises(VerificationError) as info:
        verify_bundle(lines, LOG_KEY)
    assert info.value.kind == "malformed"


def test_rule_failure_carries_code() -> None:
    e = RuleFailure("self_confirmation", "no", index=4)
    assert (e.kind, e.index, e.code) == ("rule", 4, "self_confirmation")
    assert e.to_dict()["code"] == "self_confirmation"


# -- worker processes and final aggregates ---------------------------------------------------------------------


def _summary(lines: list[bytes], **kw: Any) -> dict[str, Any]:
    got = verify_bundle(lines, LOG_KEY, **kw).to_dict()
    got.pop("seconds")
    return got


@pytest.mark.parametrize("chunk", [1, 3, 14])
def test_workers_give_the_in_process_summary(chunk: int) -> None:
    lines = [line.encode() for line in LINES]
    assert _summary(lines, workers=2, chunk=chunk) == _summary(lines, workers=0) == VECTORS["summary"]


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: f"{c['edit']}-{c['entry']}")
def test_workers_give_the_in_process_failure(case: dict[str, Any]) -> None:
    lines = [line.encode() for line in _edit(case)]
    found = []
    for kw in ({"workers": 0}, {"workers": 2, "chunk": 2}):
        with pytest.raises(VerificationError) as info:
            verify_bundle(lines, LOG_KEY, **kw)
        found.append(info.value.to_dict())
    assert found[0] == found[1]
    assert (found[0]["kind"], found[0]["index"]) == (case["kind"], case["index"])


def _log_key() -> bytes:
    from verifier.note import Verifier

    return Verifier.from_string(LOG_KEY).public_key


def test_worker_learns_a_key_bound_inside_its_chunk() -> None:
    entries = _entries()
    results = check_chunk(0, entries[:8], {}, _log_key())
    # genesis binds the operator's and authority's keys, entries 2 and 4 bind the parties' keys, which sign 5..7
    for r in results:
        assert r is not None and all(s is not None and s[1] for s in r[1])


def test_signature_whose_key_the_worker_did_not_know() -> None:
    entries = _entries()
    results = check_chunk(5, entries[5:8], {}, _log_key())
    assert all(r is not None and r[1] == (None,) for r in results)
    state = LogState(LOG_KEY)
    for data in entries[:5]:
        state.apply(data)
    for data, r in zip(entries[5:8], results, strict=True):
        assert r is not None
        state.apply_checked(data, r[0], ())  # checked here instead
    assert state.size == 8


def test_workers_told_no_bindings_still_verify_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    import verifier.bundle

    monkeypatch.setattr(verifier.bundle, "find_bindings", lambda line: [])
    lines = [line.encode() for line in LINES]
    assert _summary(lines, workers=2, chunk=3) == VECTORS["summary"]
    # a bad signature on an entry whose key the worker could not know is still found
    k = 8
    pos = _pos(LINES, k)
    value = json.loads(LINES[pos])
    sig = bytearray(base64.b64decode(value["signatures"][0]["sig"]))
    sig[7] ^= 1
    value["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    lines[pos] = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    with pytest.raises(VerificationError) as info:
        verify_bundle(lines, LOG_KEY, workers=2, chunk=3)
    assert (info.value.kind, info.value.index) == ("signature", k)


def _without_retiring(monkeypatch: pytest.MonkeyPatch) -> None:
    import verifier.replay

    monkeypatch.setattr(verifier.replay, "_final_tag", lambda state: None)


def test_final_aggregates_read_back_equal(monkeypatch: pytest.MonkeyPatch) -> None:
    state = replay(_entries(), LOG_KEY)
    _without_retiring(monkeypatch)
    whole = replay(_entries(), LOG_KEY)
    assert len(state.aggregates) == len(whole.aggregates) - 2  # the completed contract, the kept commitment
    for aggregate, rec in whole.aggregates.items():
        assert state.aggregate(aggregate) == (rec.version, rec.state)
    assert state.root() == whole.root()


def _again(index: int, like: int, version: int) -> bytes:
    """An entry at ``index`` repeating the statement of entry ``like`` with another version (signature kept)."""
    entries = _entries()
    old = parse_entry(entries[like])
    statement = {**old.statement, "version": version}
    prev = hashlib.sha256(entries[index - 1]).digest()
    return encode_entry(index, prev, dict(old.links), statement, old.signatures, old.received)


@pytest.mark.parametrize(("like", "version"), [(10, 7), (12, 3), (5, 7)])
def test_statement_on_a_final_aggregate_fails_as_before(
    like: int, version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failure() -> dict[str, Any]:
        state = replay(_entries(), LOG_KEY)
        data = _again(14, like, version)
        signed = prepare(data).signed
        assert signed is not None
        pk = state.public_key(signed.signatures[0].signer, signed.signatures[0].key_id, 14)
        assert pk is not None
        with pytest.raises(VerificationError) as info:
            state.apply(data, {0: (pk, True)})  # past the signature: the rules decide
        return info.value.to_dict()

    retired = failure()
    _without_retiring(monkeypatch)
    assert retired == failure()
    assert retired["kind"] == "rule"


@pytest.mark.parametrize("workers", ["0", "2"])
def test_cli_worker_count(workers: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from verifier.cli import main

    path = tmp_path / "bundle.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    result = CliRunner().invoke(main, ["bundle", str(path), "--log-key", LOG_KEY, "--workers", workers, "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    got.pop("seconds")
    assert got == VECTORS["summary"]


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked (and so inherit the patch) on Linux")
def test_a_failing_worker_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import verifier.parallel

    def broken(*args: object) -> list[object]:
        raise ValueError("broken worker")

    monkeypatch.setattr(verifier.parallel, "check_chunk", broken)
    with pytest.raises(RuntimeError, match="broken worker"):
        verify_bundle([line.encode() for line in LINES], LOG_KEY, workers=1, chunk=2)
