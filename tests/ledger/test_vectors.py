"""The ledger and the verifier against the same known-answer vectors (docs/vectors/ledger.json).

A small log is built through the real Ledger with fixed keys, ids and clocks; every entry, receipt, checkpoint
and proof file must come out byte for byte as in the vector file, and the verifier must accept the bundle and the
proof file from the file alone. Regenerate (after a deliberate format change) with LVYUE_WRITE_VECTORS=1.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest

from ledger.client import KeyFile
from ledger.parties import Party, register
from ledger.service import Ledger
from ledger.settings import Settings
from ledger.store import chain
from verifier.bundle import verify_bundle
from verifier.identity import make_credit_code
from verifier.proof_file import check_proof_file
from verifier.receipt import verify_receipt
from verifier.statement import b64encode, terms_digest

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors" / "ledger.json"
ORIGIN = "vectors.lvyue.example/log"
TIME = "2026-01-05T02:00:00Z"
CONTRACT = "4f3c2a10-6d5e-4b7a-9c1d-2e3f4a5b6c7d"
COMMITMENT = "8a9b0c1d-2e3f-4a5b-8c7d-9e0f1a2b3c4d"


def _seed(label: str) -> bytes:
    return hashlib.sha256(b"lvyue vectors " + label.encode()).digest()


def _platform_file(data_dir: Path) -> None:
    def key(subject: str, label: str) -> dict[str, str]:
        return KeyFile(subject, _seed(label)).to_json()

    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "platform.json").write_text(
        json.dumps(
            {
                "origin": ORIGIN,
                "log_seed": b64encode(_seed("log")),
                "operator": key(make_credit_code("12120113MB0000010"), "operator"),
                "authority": key(make_credit_code("11120113MB0000029"), "authority"),
                "pseudonym_key": b64encode(_seed("pseudonym")),
            }
        )
    )


def _build(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    ticks = itertools.count()
    monkeypatch.setattr(chain, "received_now", lambda: f"2026-01-05T02:{next(ticks):02d}:00.000000Z")
    monkeypatch.setattr("ledger.service._statement_time", lambda: TIME)
    _platform_file(settings.data_dir)
    ledger = Ledger.open(settings)
    try:
        buyer_id, supplier_id = make_credit_code("11120113MB0000107"), make_credit_code("91120113MA0000105")
        buyer = register(ledger, buyer_id, "government", "北辰区向量局", KeyFile(buyer_id, _seed("buyer")))
        supplier = register(
            ledger, supplier_id, "enterprise", "天津向量有限公司", KeyFile(supplier_id, _seed("supplier"))
        )
        terms = {
            "type": "government_procurement",
            "number": "V-2026-0001",
            "title": "向量采购",
            "parties": [{"subject": buyer_id, "role": "甲方"}, {"subject": supplier_id, "role": "乙方"}],
            "amount": 500_000,
            "currency": "CNY",
            "signed_on": "2026-01-05",
            "starts_on": "2026-01-05",
            "ends_on": "2026-06-30",
            "document_sha256": hashlib.sha256(b"vector contract").hexdigest(),
            "disclose_amount": False,
            "milestones": [
                {
                    "id": "m1",
                    "obligor": buyer_id,
                    "obligee": supplier_id,
                    "due": "2026-03-31",
                    "kind": "payment",
                    "amount": 500_000,
                    "description": "付款",
                }
            ],
        }
        receipts = []
        steps: list[tuple[Party, str, str, dict[str, Any]]] = [
            (buyer, "contract.proposed", CONTRACT, {"terms": terms, "terms_digest": terms_digest(terms)}),
            (supplier, "contract.consented", CONTRACT, {"terms_digest": terms_digest(terms)}),
            (
                buyer,
                "performance.reported",
                CONTRACT,
                {
                    "milestone": "m1",
                    "outcome": "fulfilled",
                    "on": "2026-01-05",
                    "amount": 500_000,
                    "evidence_sha256": hashlib.sha256(b"payment voucher").hexdigest(),
                },
            ),
            (supplier, "performance.confirmed", CONTRACT, {"milestone": "m1"}),
            (
                supplier,
                "commitment.made",
                COMMITMENT,
                {
                    "kind": "industry_self_discipline",
                    "authority": buyer_id,
                    "content": "承诺诚信经营",
                    "made_on": "2026-01-05",
                    "deadline": "2026-12-31",
                    "related": None,
                },
            ),
        ]
        for party, type_, aggregate, body in steps:
            receipts.append(party.submit(type_, aggregate, body, time=TIME))
        checkpoint = ledger.checkpoint()
        bundle = io.BytesIO()
        ledger.export(bundle)
        return {
            "origin": ORIGIN,
            "log_key": ledger.verifier_key,
            "entries": [data.decode() for _, data in ledger.entries(0, ledger.size())],
            "receipts": receipts,
            "checkpoint": checkpoint,
            "proof_file": ledger.tlog_proof(6),
            "bundle": bundle.getvalue().decode().splitlines(),
        }
    finally:
        ledger.close()


def test_ledger_reproduces_the_vectors(
    tmp_path: Path, database_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, origin=ORIGIN)
    built = _build(settings, monkeypatch)
    if os.environ.get("LVYUE_WRITE_VECTORS"):
        VECTORS.write_text(json.dumps(built, ensure_ascii=False, indent=1) + "\n")
    expected = json.loads(VECTORS.read_text())
    assert built["entries"] == expected["entries"]
    assert built["receipts"] == expected["receipts"]
    assert built["checkpoint"] == expected["checkpoint"]
    assert built["proof_file"] == expected["proof_file"]
    assert built["bundle"] == expected["bundle"]


def test_verifier_accepts_the_vectors_from_the_file_alone() -> None:
    vectors = json.loads(VECTORS.read_text())
    summary = verify_bundle([line.encode() for line in vectors["bundle"]], vectors["log_key"])
    assert summary.entries == len(vectors["entries"])
    for receipt in vectors["receipts"]:
        verify_receipt(receipt, vectors["log_key"])
    result = check_proof_file(vectors["proof_file"], vectors["log_key"])
    assert result.index == 6
    assert base64.b64encode(result.entry_bytes).decode() == base64.b64encode(vectors["entries"][6].encode()).decode()
