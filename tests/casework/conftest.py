"""A small casework scene: enterprise A and bureau B sign one contract; A's delivery m1 is flagged overdue."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from ledger.parties import Party, register
from ledger.service import Ledger
from verifier.identity import make_credit_code
from verifier.statement import terms_digest

A_CODE = make_credit_code("91120113MA0000011")
B_CODE = make_credit_code("11120113MB0000037")
C_CODE = make_credit_code("91120113MA0000029")


@dataclass
class Scene:
    ledger: Ledger
    a: Party
    b: Party
    c: Party
    contract: str
    overdue: int  # index of the milestone.overdue entry (a negative record about A)
    consent: int  # index of B's consent (concerns A and B)


def make_terms(a: str, b: str, number: str = "BC-2025-001") -> dict[str, object]:
    return {
        "type": "government_procurement",
        "number": number,
        "title": "办公设备采购",
        "parties": [{"subject": b, "role": "甲方"}, {"subject": a, "role": "乙方"}],
        "amount": 100_000,
        "currency": "CNY",
        "signed_on": "2025-01-05",
        "starts_on": "2025-01-05",
        "ends_on": "2026-12-31",
        "document_sha256": "ab" * 32,
        "disclose_amount": False,
        "milestones": [
            {
                "id": "m1",
                "obligor": a,
                "obligee": b,
                "due": "2025-03-01",
                "kind": "delivery",
                "amount": 0,
                "description": "交付",
            },
            {
                "id": "m2",
                "obligor": b,
                "obligee": a,
                "due": "2025-04-01",
                "kind": "payment",
                "amount": 100_000,
                "description": "付款",
            },
        ],
    }


def sign_contract(a: Party, b: Party, number: str = "BC-2025-001") -> tuple[str, int]:
    cid = str(uuid.uuid4())
    terms = make_terms(a.subject, b.subject, number)
    digest = terms_digest(terms)
    b.submit("contract.proposed", cid, {"terms": terms, "terms_digest": digest})
    r = a.submit("contract.consented", cid, {"terms_digest": digest})
    return cid, int(r["index"])


@pytest.fixture
def scene(ledger: Ledger) -> Scene:
    a = register(ledger, A_CODE, "enterprise", "天津甲科技有限公司")
    b = register(ledger, B_CODE, "government", "天津乙局")
    c = register(ledger, C_CODE, "enterprise", "天津丙贸易有限公司")
    cid, consent = sign_contract(a, b)
    r = ledger.submit_as_platform("operator", "milestone.overdue", cid, {"milestone": "m1", "as_of": "2025-03-05"})
    return Scene(ledger, a, b, c, cid, int(r["index"]), consent)
