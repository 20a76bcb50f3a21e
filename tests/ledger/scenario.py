"""Small building blocks for ledger tests: registered parties and a two-party contract."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from typing import Any

from ledger.parties import Party, register
from ledger.service import Ledger
from verifier.identity import make_credit_code
from verifier.statement import terms_digest

_serial = itertools.count(1)


def new_code(prefix: str = "91120113") -> str:
    """A fresh valid unified social credit code."""
    n = next(_serial)
    return make_credit_code(f"{prefix}MA{n:07d}")


def enterprise(ledger: Ledger, name: str = "天津测试有限公司") -> Party:
    """A registered enterprise with a bound key."""
    return register(ledger, new_code("91120113"), "enterprise", name)


def government(ledger: Ledger, name: str = "北辰区测试局") -> Party:
    """A registered government body with a bound key."""
    return register(ledger, new_code("11120113"), "government", name)


def terms(buyer: Party, supplier: Party, *, due: str = "2026-03-01", pay_due: str = "2026-04-01") -> dict[str, Any]:
    """Procurement terms: the supplier delivers (m1), the buyer pays (m2)."""
    return {
        "type": "government_procurement",
        "number": f"T-{uuid.uuid4().hex[:8]}",
        "title": "办公设备采购",
        "parties": [{"subject": buyer.subject, "role": "甲方"}, {"subject": supplier.subject, "role": "乙方"}],
        "amount": 1_000_000,
        "currency": "CNY",
        "signed_on": "2026-01-05",
        "starts_on": "2026-01-05",
        "ends_on": "2026-12-31",
        "document_sha256": hashlib.sha256(b"contract").hexdigest(),
        "disclose_amount": True,
        "milestones": [
            {
                "id": "m1",
                "obligor": supplier.subject,
                "obligee": buyer.subject,
                "due": due,
                "kind": "delivery",
                "amount": 0,
                "description": "交付",
            },
            {
                "id": "m2",
                "obligor": buyer.subject,
                "obligee": supplier.subject,
                "due": pay_due,
                "kind": "payment",
                "amount": 1_000_000,
                "description": "付款",
            },
        ],
    }


def registered_contract(ledger: Ledger, buyer: Party, supplier: Party) -> tuple[str, dict[str, Any]]:
    """Propose (buyer) and consent (supplier): a registered contract's id and terms."""
    cid = str(uuid.uuid4())
    t = terms(buyer, supplier)
    buyer.submit("contract.proposed", cid, {"terms": t, "terms_digest": terms_digest(t)})
    supplier.submit("contract.consented", cid, {"terms_digest": terms_digest(t)})
    return cid, t


def evidence(text: str = "evidence") -> str:
    """A SHA-256 hex digest standing for an evidence document."""
    return hashlib.sha256(text.encode()).hexdigest()


def commitment_body(authority: Party, content: str = "承诺") -> dict[str, Any]:
    """The body of a commitment of kind ``other`` made to ``authority``."""
    return {
        "kind": "other",
        "authority": authority.subject,
        "content": content,
        "made_on": "2026-01-10",
        "deadline": "2026-06-30",
        "related": None,
    }
