"""POST /statements is answered ahead of the framework's layers; the answers are those of the declared route."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from api.auth import Tokens
from api.fast_submit import FastSubmit
from api.main import create_app
from ledger.parties import Party
from ledger.service import Ledger
from tests.api.conftest import TOKENS, make_terms
from verifier.statement import terms_digest


def test_fast_path_and_declared_route_answer_alike(
    ledger: Ledger, tmp_path: Path, buyer: Party, supplier: Party
) -> None:
    fast = create_app(ledger, tokens=Tokens.from_plain(TOKENS), rate=0, access_log=tmp_path / "a.jsonl")
    plain = create_app(ledger, tokens=Tokens.from_plain(TOKENS), rate=0, access_log=tmp_path / "b.jsonl")
    plain.user_middleware = [m for m in plain.user_middleware if m.cls is not FastSubmit]
    assert any(m.cls is FastSubmit for m in fast.user_middleware)
    t = make_terms(buyer, supplier)
    good = buyer.statement("contract.proposed", str(uuid.uuid4()), {"terms": t, "terms_digest": terms_digest(t)})
    spoiled = copy.deepcopy(good)
    sig = spoiled["signatures"][0]["sig"]
    spoiled["signatures"][0]["sig"] = sig[:20] + ("A" if sig[20] != "A" else "B") + sig[21:]
    bodies: list[bytes] = [b"{", b"[]", b'"x"', b"{}", b"x" * ((1 << 20) + 1)]
    size = ledger.size()
    with TestClient(fast) as f, TestClient(plain) as p:
        for body in bodies:
            a, b = f.post("/statements", content=body), p.post("/statements", content=body)
            assert (a.status_code, a.json()) == (b.status_code, b.json()), body[:20]
            assert a.status_code == 400
        a, b = f.post("/statements", json=spoiled), p.post("/statements", json=spoiled)
        assert (a.status_code, a.json(), a.headers.get("www-authenticate")) == (
            b.status_code,
            b.json(),
            b.headers.get("www-authenticate"),
        )
        assert a.status_code == 401 and a.json()["code"] == "bad_signature"
        assert ledger.size() == size, "refusals store nothing"
        accepted = f.post("/statements", json=good)
        assert accepted.status_code == 201 and accepted.json()["index"] == size
        replayed = (f.post("/statements", json=good), p.post("/statements", json=good))
        assert [(r.status_code, r.json()["code"]) for r in replayed] == [(409, "version_conflict")] * 2
        other = buyer.statement("contract.proposed", str(uuid.uuid4()), {"terms": t, "terms_digest": terms_digest(t)})
        assert p.post("/statements", json=other).status_code == 201
    assert "/statements" in fast.openapi()["paths"]
