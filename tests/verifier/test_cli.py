"""``lvyue-verify``: exit codes, --json output, and the monitor against the HTTP API of a real ledger."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.parties import register
from ledger.service import Ledger
from ledger.settings import Settings
from verifier.cli import main
from verifier.errors import VerificationError
from verifier.identity import make_credit_code, subject_aggregate
from verifier.monitor import FetchError, run_monitor

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "docs" / "vectors" / "bundle.json").read_text())


def _bundle(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "bundle.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_bundle_ok_and_json(tmp_path: Path) -> None:
    path = _bundle(tmp_path, VECTORS["bundle"])
    runner = CliRunner()
    result = runner.invoke(main, ["bundle", str(path), "--log-key", VECTORS["log_key"]])
    assert result.exit_code == 0, result.output
    assert "entries" in result.output and "checkpoints checked" in result.output
    result = runner.invoke(main, ["bundle", str(path), "--log-key", VECTORS["log_key"], "--json"])
    assert result.exit_code == 0
    out = json.loads(result.output)
    assert out["ok"] is True and out["entries"] == VECTORS["summary"]["entries"]


def test_bundle_failure(tmp_path: Path) -> None:
    lines = list(VECTORS["bundle"])
    del lines[5]
    path = _bundle(tmp_path, lines)
    result = CliRunner().invoke(main, ["bundle", str(path), "--log-key", VECTORS["log_key"], "--json"])
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["ok"] is False and out["kind"] == "index" and out["index"] == 4
    result = CliRunner().invoke(main, ["bundle", str(path), "--log-key", VECTORS["log_key"]])
    assert result.exit_code == 1
    assert "FAILED  index at entry 4" in result.output and "expected: 4" in result.output


def test_usage_and_io_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["bundle", str(tmp_path / "missing"), "--log-key", VECTORS["log_key"], "--json"])
    assert result.exit_code == 2
    assert json.loads(result.output)["ok"] is False
    assert runner.invoke(main, ["bundle"]).exit_code == 2
    assert runner.invoke(main, ["nonsense"]).exit_code == 2
    path = _bundle(tmp_path, VECTORS["bundle"])
    result = runner.invoke(main, ["bundle", str(path), "--log-key", VECTORS["log_key"], "--witness-threshold", "1"])
    assert result.exit_code == 2


def test_witness_policy_option(tmp_path: Path) -> None:
    from verifier.checkpoint import witness_verifier_key_string
    from verifier.statement import public_key_of

    witness = witness_verifier_key_string("witness.example/a", public_key_of(b"\x11" * 32))
    path = _bundle(tmp_path, VECTORS["bundle"])
    args = ["bundle", str(path), "--log-key", VECTORS["log_key"], "--witness", witness, "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert json.loads(result.output)["kind"] == "cosignature"
    result = CliRunner().invoke(main, [*args, "--witness-threshold", "0"])
    assert result.exit_code == 0


def _ledger(settings: Settings) -> Ledger:
    led = Ledger.open(settings)
    register(led, make_credit_code("91120113MA0000011"), "enterprise", "甲公司")
    led.checkpoint()
    return led


def test_proof_and_receipt(ledger: Ledger, tmp_path: Path) -> None:
    a = register(ledger, make_credit_code("91120113MA0000011"), "enterprise", "甲公司")
    receipt = ledger.submit_as_platform(
        "authority",
        "key.revoked",
        subject_aggregate(a.subject),
        {"subject": a.subject, "key_id": a.key.key_id, "reason": "lost"},
    )
    (tmp_path / "receipt.json").write_text(json.dumps(receipt))
    (tmp_path / "proof.txt").write_text(ledger.tlog_proof(receipt["index"]))
    runner = CliRunner()
    for cmd, name in (("receipt", "receipt.json"), ("proof", "proof.txt")):
        result = runner.invoke(main, [cmd, str(tmp_path / name), "--log-key", ledger.verifier_key, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["index"] == receipt["index"]
    bad = dict(receipt, index=receipt["index"] + 1)
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    result = runner.invoke(main, ["receipt", str(tmp_path / "bad.json"), "--log-key", ledger.verifier_key, "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["kind"] == "signature"
    text = (tmp_path / "proof.txt").read_text().replace("index ", "index 1", 1)
    (tmp_path / "bad.txt").write_text(text)
    result = runner.invoke(main, ["proof", str(tmp_path / "bad.txt"), "--log-key", ledger.verifier_key])
    assert result.exit_code == 1
    result = runner.invoke(main, ["report", str(tmp_path / "missing.json"), "--log-key", ledger.verifier_key])
    assert result.exit_code == 2


# -- the monitor, against the HTTP API -------------------------------------------------------------------------


def _client(led: Ledger, tmp_path: Path) -> object:
    from fastapi.testclient import TestClient

    from api.auth import Tokens
    from api.main import create_app

    app = create_app(led, tokens=Tokens.from_plain({}), rate=0, access_log=tmp_path / "access.jsonl")
    return TestClient(app)


def test_monitor_follows_a_growing_log(ledger: Ledger, tmp_path: Path) -> None:
    client = _client(ledger, tmp_path)
    state = tmp_path / "state"
    first = run_monitor(client, state, ledger.verifier_key)  # type: ignore[arg-type]
    assert first.previous_size is None and first.size == ledger.size()
    register(ledger, make_credit_code("91120113MA0000011"), "enterprise", "甲公司")
    second = run_monitor(client, state, ledger.verifier_key)  # type: ignore[arg-type]
    assert second.previous_size == first.size and second.size == ledger.size() == 3
    assert (state / "checkpoint").read_text() == ledger.checkpoint()


def test_monitor_catches_a_rewritten_history(ledger: Ledger, settings: Settings, tmp_path: Path) -> None:
    register(ledger, make_credit_code("91120113MA0000011"), "enterprise", "甲公司")
    state = tmp_path / "state"
    run_monitor(_client(ledger, tmp_path), state, ledger.verifier_key)  # type: ignore[arg-type]
    accepted = (state / "checkpoint").read_text()
    # the same log key over another history (a fresh store with the same platform keys)
    fork_dir = tmp_path / "fork"
    fork_dir.mkdir()
    shutil.copy(settings.data_dir / "platform.json", fork_dir / "platform.json")
    fork = _ledger(Settings(data_dir=fork_dir, origin=settings.origin))
    try:
        register(fork, make_credit_code("91120113MA0000020"), "enterprise", "丙公司")
        with pytest.raises(VerificationError) as info:
            run_monitor(_client(fork, tmp_path), state, ledger.verifier_key)  # type: ignore[arg-type]
        assert info.value.kind == "consistency"
        assert (state / "checkpoint").read_text() == accepted
    finally:
        fork.close()


def test_monitor_fetch_errors(ledger: Ledger, tmp_path: Path) -> None:
    import httpx

    with httpx.Client(base_url="http://127.0.0.1:9") as client, pytest.raises(FetchError):
        run_monitor(client, tmp_path / "state", ledger.verifier_key)
    result = CliRunner().invoke(
        main,
        [
            "monitor",
            "--url",
            "http://127.0.0.1:9",
            "--state",
            str(tmp_path / "s"),
            "--log-key",
            ledger.verifier_key,
            "--json",
            "--timeout",
            "2",
        ],
    )
    assert result.exit_code == 2
    assert json.loads(result.output)["ok"] is False


def test_monitor_refuses_a_planted_checkpoint(ledger: Ledger, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "checkpoint").write_text(ledger.checkpoint().replace("\n1\n", "\n2\n", 1))
    with pytest.raises(VerificationError) as info:
        run_monitor(_client(ledger, tmp_path), state, ledger.verifier_key)  # type: ignore[arg-type]
    assert info.value.kind == "checkpoint_signature"
