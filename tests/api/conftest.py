"""Fixtures of the API tests: the application around the per-test ledger, a client, two registered parties."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.auth import Tokens
from api.main import create_app
from ledger.parties import Party, register
from ledger.service import Ledger
from verifier.identity import make_credit_code
from verifier.statement import terms_digest

TOKENS = {"authority": "tok-authority", "operator": "tok-operator", "auditor": "tok-auditor"}
AUTHORITY = {"Authorization": "Bearer tok-authority"}
OPERATOR = {"Authorization": "Bearer tok-operator"}
AUDITOR = {"Authorization": "Bearer tok-auditor"}


@pytest.fixture
def app(ledger: Ledger, tmp_path: Path) -> FastAPI:
    """The application, without a public rate limit, logging role accesses to tmp_path/access.jsonl."""
    return create_app(ledger, tokens=Tokens.from_plain(TOKENS), rate=0, access_log=tmp_path / "access.jsonl")


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A test client of ``app``."""
    with TestClient(app) as c:
        yield c


@pytest.fixture
def supplier(ledger: Ledger) -> Party:
    """A registered enterprise with a bound key."""
    return register(ledger, make_credit_code("91120113MA0000011"), "enterprise", "甲公司")


@pytest.fixture
def buyer(ledger: Ledger) -> Party:
    """A registered government body with a bound key."""
    return register(ledger, make_credit_code("11120113MB0000037"), "government", "乙局")


def make_terms(buyer: Party, supplier: Party, *, disclose: bool = False) -> dict[str, Any]:
    """Terms of a small procurement contract: a delivery due 2026-03-01 and a payment due 2026-04-01."""
    return {
        "type": "government_procurement",
        "number": "BC-2026-001",
        "title": "办公设备采购",
        "parties": [{"subject": buyer.subject, "role": "buyer"}, {"subject": supplier.subject, "role": "supplier"}],
        "amount": 100000,
        "currency": "CNY",
        "signed_on": "2026-01-05",
        "starts_on": "2026-01-05",
        "ends_on": "2026-12-31",
        "document_sha256": "ab" * 32,
        "disclose_amount": disclose,
        "milestones": [
            {
                "id": "m1",
                "obligor": supplier.subject,
                "obligee": buyer.subject,
                "due": "2026-03-01",
                "kind": "delivery",
                "amount": 0,
                "description": "交付",
            },
            {
                "id": "m2",
                "obligor": buyer.subject,
                "obligee": supplier.subject,
                "due": "2026-04-01",
                "kind": "payment",
                "amount": 100000,
                "description": "付款",
            },
        ],
    }


def registered_contract(buyer: Party, supplier: Party, *, disclose: bool = False) -> str:
    """Propose (buyer) and consent (supplier) a contract in-process; return its id."""
    cid = str(uuid.uuid4())
    terms = make_terms(buyer, supplier, disclose=disclose)
    digest = terms_digest(terms)
    buyer.submit("contract.proposed", cid, {"terms": terms, "terms_digest": digest})
    supplier.submit("contract.consented", cid, {"terms_digest": digest})
    return cid
