"""A contract's whole life, and a commitment's, through the ``lvyue`` party commands against a real server."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from fastapi import FastAPI

from ledger.cli import cli
from ledger.cli.serve import start_checkpoints
from ledger.client import KeyFile
from ledger.service import Ledger
from tests.api.conftest import TOKENS
from verifier.identity import make_credit_code
from verifier.receipt import verify_receipt
from verifier.statement import b64encode


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a free port of 127.0.0.1; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _run(args: list[str], url: str, *, ok: bool = True) -> str:
    """Run ``lvyue GROUP COMMAND --url URL ...`` (or ``lvyue status --url URL ...``); return its output."""
    at = 1 if args[0] == "status" else 2
    result = CliRunner().invoke(cli, [*args[:at], "--url", url, *args[at:]])
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0
    return result.output


def test_contract_life_through_the_cli(served: str, ledger: Ledger, tmp_path: Path) -> None:
    token = TOKENS["authority"]
    supplier, buyer = make_credit_code("91120113MA0000011"), make_credit_code("11120113MB0000037")
    keys = {}
    for name, subject, kind in (("s", supplier, "enterprise"), ("b", buyer, "government")):
        path = tmp_path / f"{name}.key"
        out = CliRunner().invoke(cli, ["keygen", subject, "--out", str(path)])
        assert out.exit_code == 0 and json.loads(out.output)["key_id"] == KeyFile.load(path).key_id
        keys[name] = str(path)
        _run(["desk", "register", "--token", token, subject, "--kind", kind, "--name", f"单位{name}"], served)
        _run(["desk", "bind", "--token", token, subject, "--key-file", str(path)], served)
    assert CliRunner().invoke(cli, ["keygen", supplier, "--out", keys["s"]]).exit_code != 0
    terms = {
        "type": "government_procurement",
        "number": "BC-2026-007",
        "title": "服务器采购",
        "parties": [{"subject": buyer, "role": "buyer"}, {"subject": supplier, "role": "supplier"}],
        "amount": 500000,
        "currency": "CNY",
        "signed_on": "2026-01-05",
        "starts_on": "2026-01-05",
        "ends_on": "2026-12-31",
        "document_sha256": "ef" * 32,
        "disclose_amount": True,
        "milestones": [
            {
                "id": "m1",
                "obligor": supplier,
                "obligee": buyer,
                "due": "2026-03-01",
                "kind": "delivery",
                "amount": 0,
                "description": "交付",
            },
            {
                "id": "m2",
                "obligor": buyer,
                "obligee": supplier,
                "due": "2026-04-01",
                "kind": "payment",
                "amount": 500000,
                "description": "付款",
            },
        ],
    }
    (tmp_path / "terms.json").write_text(json.dumps(terms, ensure_ascii=False))
    evidence = tmp_path / "delivery.pdf"
    evidence.write_bytes(b"%PDF delivery note")
    cid = str(uuid.uuid4())
    receipt = json.loads(
        _run(
            ["contract", "propose", "--key", keys["b"], "--terms", str(tmp_path / "terms.json"), "--id", cid], served
        ).splitlines()[-1]
    )
    verify_receipt(receipt, ledger.verifier_key)
    _run(["contract", "consent", "--key", keys["s"], cid], served)
    terms["milestones"][0]["due"] = "2026-03-15"
    (tmp_path / "terms2.json").write_text(json.dumps(terms, ensure_ascii=False))
    _run(
        ["contract", "amend", "--key", keys["b"], "--key", keys["s"], cid, "--terms", str(tmp_path / "terms2.json")],
        served,
    )
    base = ["--outcome", "fulfilled", "--on", "2026-03-10"]
    _run(
        ["perform", "report", "--key", keys["s"], cid, "m1", *base, "--amount", "0", "--evidence", str(evidence)],
        served,
    )
    _run(["perform", "confirm", "--key", keys["b"], cid, "m1"], served)
    pay = ["--outcome", "fulfilled", "--on", "2026-03-30", "--amount", "500000"]
    _run(["perform", "report", "--key", keys["b"], cid, "m2", *pay, "--evidence", str(evidence)], served)
    out = _run(["perform", "confirm", "--key", keys["b"], cid, "m2"], served, ok=False)
    assert "self_confirmation" in out
    _run(["perform", "dispute", "--key", keys["s"], cid, "m2", "--reason", "未到账"], served)
    _run(["dispute", "resolve", "--key", keys["s"], "--key", keys["b"], cid, "m2", *pay], served)
    state = json.loads(_run(["status", cid], served))
    assert state["status"] == "completed" and state["milestones"][1]["settled_by"] == "resolved"
    assert state["milestones"][0]["evidence_sha256"] == hashlib.sha256(evidence.read_bytes()).hexdigest()

    com = str(uuid.uuid4())
    made = [
        "--kind",
        "credit_repair",
        "--authority",
        buyer,
        "--content",
        "整改到位",
        "--made-on",
        "2026-01-05",
        "--deadline",
        "2026-06-30",
        "--id",
        com,
    ]
    _run(["commitment", "make", "--key", keys["s"], *made], served)
    _run(["commitment", "keep", "--key", keys["b"], com, "--on", "2026-02-01", "--evidence", str(evidence)], served)
    assert json.loads(_run(["status", com], served))["status"] == "kept"
    com2 = str(uuid.uuid4())
    _run(["commitment", "make", "--key", keys["s"], *made[:-1], com2], served)
    _run(["commitment", "break", "--key", keys["b"], com2, "--on", "2026-02-01", "--reason", "未整改"], served)

    other = str(uuid.uuid4())
    _run(["contract", "propose", "--key", keys["b"], "--terms", str(tmp_path / "terms.json"), "--id", other], served)
    _run(["contract", "withdraw", "--key", keys["b"], other, "--reason", "预算取消"], served)
    third = str(uuid.uuid4())
    _run(["contract", "propose", "--key", keys["b"], "--terms", str(tmp_path / "terms.json"), "--id", third], served)
    _run(["contract", "consent", "--key", keys["s"], third], served)
    _run(["contract", "terminate", "--key", keys["b"], "--key", keys["s"], third, "--reason", "协商解除"], served)
    assert json.loads(_run(["status", third], served))["status"] == "terminated"

    # The operator's clock over HTTP: open milestones past due become overdue, once.
    late = str(uuid.uuid4())
    _run(["contract", "propose", "--key", keys["b"], "--terms", str(tmp_path / "terms.json"), "--id", late], served)
    _run(["contract", "consent", "--key", keys["s"], late], served)
    operator_token = TOKENS["operator"]
    clocked = json.loads(_run(["operator", "clock", "--token", operator_token, "--as-of", "2026-06-01"], served))
    assert clocked["as_of"] == "2026-06-01" and clocked["milestones"] == len(clocked["receipts"]) > 0
    again = json.loads(_run(["operator", "clock", "--token", operator_token, "--as-of", "2026-06-01"], served))
    assert again["milestones"] == 0, "the clock marks a milestone overdue once"
    note = json.loads(_run(["operator", "checkpoint", "--token", operator_token], served))
    assert note["size"] == ledger.size() and note["note"].startswith(ledger.origin + "\n")
    assert "forbidden" in _run(["operator", "checkpoint", "--token", token], served, ok=False)

    kid = KeyFile.load(Path(keys["s"])).key_id
    _run(["desk", "revoke", "--token", token, supplier, kid, "--reason", "离职"], served)
    out = _run(["contract", "consent", "--key", keys["s"], other], served, ok=False)
    assert "illegal_transition" in out or "revoked_key" in out
    out = _run(
        ["desk", "register", "--token", "wrong", supplier, "--kind", "enterprise", "--name", "x"], served, ok=False
    )
    assert "unauthorized" in out
    bundle = httpx.get(f"{served}/log/export").content.splitlines()
    assert len([line for line in bundle if line.startswith(b'{"index":')]) == ledger.size()
    assert b64encode(KeyFile.load(Path(keys["b"])).public_key) in bundle[-1].decode()


def test_cli_reports_an_unreachable_server(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["status", "--url", "http://127.0.0.1:9", str(uuid.uuid4())])
    assert result.exit_code != 0 and "unreachable" in result.output


def test_checkpoint_thread_issues_checkpoints(ledger: Ledger) -> None:
    thread, stop = start_checkpoints(ledger, 0.01)
    deadline = time.monotonic() + 10
    while ledger.store.latest_checkpoint() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert ledger.store.latest_checkpoint() is not None and ledger.store.latest_checkpoint()[0] == ledger.size()  # type: ignore[index]
