"""Subjects, contracts, commitments, check; the desk and operator roles; tokens; rate limiting; OpenAPI."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from api.auth import Tokens, issue_tokens, parse_env_tokens, token_hash
from api.main import create_app
from api.ratelimit import RateLimiter
from ledger.client import KeyFile, sign
from ledger.parties import Party
from ledger.service import Ledger
from tests.api.conftest import AUDITOR, AUTHORITY, OPERATOR, TOKENS, make_terms, registered_contract
from verifier.identity import make_credit_code, mask_subject_id
from verifier.receipt import verify_receipt
from verifier.statement import b64encode


def test_subject_public_and_full(client: TestClient, supplier: Party, tmp_path: Path) -> None:
    public = client.get(f"/subjects/{supplier.subject}").json()
    assert public["view"] == "public" and public["subject"] == mask_subject_id(supplier.subject)
    assert public["kind"] == "enterprise" and public["name"] == "甲公司"
    assert [k["key_id"] for k in public["keys"]] == [supplier.key.key_id] and public["keys"][0]["public_key"] is None
    full = client.get(f"/subjects/{supplier.subject}", headers=AUDITOR).json()
    assert full["view"] == "full" and full["subject"] == supplier.subject
    assert full["keys"][0]["public_key"] == b64encode(supplier.key.public_key)
    log = [orjson.loads(line) for line in (tmp_path / "access.jsonl").read_bytes().splitlines()]
    assert log[-1]["role"] == "auditor" and log[-1]["target"] == f"/subjects/{supplier.subject}"
    r = client.get(f"/subjects/{make_credit_code('91120113MA0000099')}")
    assert r.status_code == 404 and r.json()["code"] == "unknown_subject"


def test_contract_views_hide_amounts(client: TestClient, buyer: Party, supplier: Party) -> None:
    cid = registered_contract(buyer, supplier)
    public = client.get(f"/contracts/{cid}").json()
    assert public["status"] == "registered" and public["version"] == 2 and public["terms"] is None
    assert public["amount"] is None and all(m["amount_due"] is None for m in public["milestones"])
    full = client.get(f"/contracts/{cid}", headers=AUDITOR).json()
    assert full["amount"] == 100000 and full["terms"] == make_terms(buyer, supplier)
    disclosed = registered_contract(buyer, supplier, disclose=True)
    assert client.get(f"/contracts/{disclosed}").json()["amount"] == 100000
    assert client.get(f"/contracts/{uuid.uuid4()}").status_code == 404
    assert client.get("/contracts/not-a-uuid").status_code == 400
    assert client.get(f"/commitments/{cid}").status_code == 404


def _commitment(client: TestClient, maker: Party, authority: Party, deadline: str = "2026-02-05") -> str:
    cid = str(uuid.uuid4())
    body = {
        "kind": "deficiency_acceptance",
        "authority": authority.subject,
        "content": "三十日内补齐材料",
        "made_on": "2026-01-05",
        "deadline": deadline,
        "related": None,
    }
    assert client.post("/statements", json=maker.statement("commitment.made", cid, body)).status_code == 201
    return cid


def test_commitment_and_check(client: TestClient, buyer: Party, supplier: Party) -> None:
    cid = _commitment(client, supplier, buyer)
    view = client.get(f"/commitments/{cid}").json()
    assert view["status"] == "open" and view["maker"] == supplier.subject and view["deadline"] == "2026-02-05"
    broken = buyer.statement("commitment.broken", cid, {"on": "2026-02-10", "reason": "未补齐"})
    assert client.post("/statements", json=broken).status_code == 201
    assert client.get(f"/commitments/{cid}").json()["status"] == "broken"
    unknown = make_credit_code("91120113MA0000099")
    r = client.get("/check", params={"codes": f"{supplier.subject},{unknown}"})
    assert r.status_code == 200
    first, second = r.json()["results"]
    assert first["subject"] == supplier.subject and first["registered"] and first["broken_commitments"] == 1
    assert first["grade"] in "ABCD" and isinstance(first["score"], int)
    assert second == {
        "subject": unknown,
        "registered": False,
        "kind": None,
        "overdue_milestones": 0,
        "broken_commitments": 0,
        "score": None,
        "grade": None,
        "arrears_amount": None,
    }
    posted = client.post("/check", json={"codes": [supplier.subject, unknown]}).json()
    assert posted["results"] == r.json()["results"]
    assert client.post("/check", json={"codes": []}).status_code == 400
    assert client.post("/check", json={"codes": ["x"] * 1001}).status_code == 400
    assert client.get("/check", params={"codes": ",".join(["x"] * 1001)}).status_code == 400
    assert client.get("/check", params={"codes": ","}).status_code == 400


def test_operator_clock(client: TestClient, ledger: Ledger, buyer: Party, supplier: Party) -> None:
    cid = registered_contract(buyer, supplier)
    com = _commitment(client, supplier, buyer)
    r = client.post("/operator/clock", json={"as_of": "2026-03-05"}, headers=OPERATOR)
    assert r.status_code == 200
    out = r.json()
    assert (out["milestones"], out["commitments"], out["failed"]) == (1, 1, [])
    for receipt in out["receipts"]:
        verify_receipt(receipt, ledger.verifier_key)
    view = client.get(f"/contracts/{cid}").json()
    assert [m["overdue"] for m in view["milestones"]] == [True, False]
    assert client.get(f"/commitments/{com}").json()["status"] == "overdue"
    again = client.post("/operator/clock", json={"as_of": "2026-03-06"}, headers=OPERATOR).json()
    assert (again["milestones"], again["commitments"]) == (0, 0)
    later = client.post("/operator/clock", json={"as_of": "2026-04-02"}, headers=OPERATOR).json()
    assert later["milestones"] == 1
    check = client.get("/check", params={"codes": supplier.subject}).json()["results"][0]
    assert check["overdue_milestones"] == 1
    r = client.post("/operator/clock", json={"as_of": "2999-01-01"}, headers=OPERATOR)
    assert r.status_code == 422 and r.json()["code"] == "bad_date"
    assert client.post("/operator/clock", json={"as_of": "yesterday"}, headers=OPERATOR).status_code == 400


def test_operator_checkpoint(client: TestClient, ledger: Ledger) -> None:
    r = client.post("/operator/checkpoint", headers=OPERATOR)
    assert r.status_code == 200 and r.json()["size"] == ledger.size() and r.json()["note"] == ledger.checkpoint()


def test_desk_register_bind_revoke(client: TestClient, ledger: Ledger) -> None:
    subject = make_credit_code("91120113MA0000020")
    r = client.post(
        "/desk/subjects", json={"subject": subject, "kind": "enterprise", "name": "丙公司"}, headers=AUTHORITY
    )
    assert r.status_code == 201
    verify_receipt(r.json(), ledger.verifier_key)
    r = client.post(
        "/desk/subjects", json={"subject": subject, "kind": "enterprise", "name": "丙公司"}, headers=AUTHORITY
    )
    assert r.status_code == 422 and r.json()["code"] == "already_registered"
    bad = client.post(
        "/desk/subjects", json={"subject": "91120113MA0000020X", "kind": "enterprise", "name": "丁"}, headers=AUTHORITY
    )
    assert bad.status_code == 400
    key = KeyFile.generate(subject)
    body = {"subject": subject, "public_key": b64encode(key.public_key)}
    assert client.post("/desk/keys", json=body, headers=AUTHORITY).status_code == 201
    assert (
        client.post("/desk/keys", json={"subject": subject, "public_key": "AAAA"}, headers=AUTHORITY).status_code == 400
    )
    full = client.get(f"/subjects/{subject}", headers=AUTHORITY).json()
    assert [k["key_id"] for k in full["keys"]] == [key.key_id]
    revoke = {"subject": subject, "key_id": key.key_id, "reason": "lost"}
    assert client.post("/desk/keys/revoke", json=revoke, headers=AUTHORITY).status_code == 201
    assert client.get(f"/subjects/{subject}").json()["keys"][0]["revoked_at"] is not None
    r = client.post("/desk/keys/revoke", json=revoke, headers=AUTHORITY)
    assert r.status_code == 422 and r.json()["code"] == "key_not_valid"


def test_role_tokens_are_enforced(client: TestClient) -> None:
    body = {"subject": make_credit_code("91120113MA0000020"), "kind": "enterprise", "name": "丙公司"}
    r = client.post("/desk/subjects", json=body)
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    assert client.post("/desk/subjects", json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/desk/subjects", json=body, headers={"Authorization": "Basic eDp5"}).status_code == 401
    r = client.post("/desk/subjects", json=body, headers=OPERATOR)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert client.post("/operator/checkpoint", headers=AUTHORITY).status_code == 403
    assert client.post("/operator/clock", json={"as_of": "2026-01-01"}).status_code == 401
    assert client.get("/log/size", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_public_rate_limit(ledger: Ledger, tmp_path: Path) -> None:
    app = create_app(ledger, tokens=Tokens.from_plain(TOKENS), rate=0.001, burst=3, access_log=tmp_path / "a.jsonl")
    with TestClient(app) as c:
        assert [c.get("/log/size").status_code for _ in range(4)] == [200, 200, 200, 429]
        r = c.get("/log/size")
        assert r.json()["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
        assert c.get("/log/size", headers=AUDITOR).status_code == 200


def test_rate_limiter_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, 2, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(2)] == [0.0, 0.0]
    assert limiter.allow("a") == pytest.approx(0.5)
    assert limiter.allow("b") == 0.0
    now[0] = 0.5
    assert limiter.allow("a") == 0.0


def test_tokens_file_and_env(tmp_path: Path) -> None:
    _tokens, plain = issue_tokens(tmp_path, env={})
    assert set(plain) == {"authority", "operator", "auditor"}
    stored = json.loads((tmp_path / "api-tokens.json").read_text())
    assert stored == {role: token_hash(t) for role, t in plain.items()}
    assert (tmp_path / "api-tokens.json").stat().st_mode & 0o777 == 0o600
    again, none = issue_tokens(tmp_path, env={})
    assert none == {} and again.role_of(plain["operator"]) == "operator" and again.role_of("x") is None
    from_env, _ = issue_tokens(tmp_path, env={"LVYUE_TOKENS": "auditor=a1, operator=o1"})
    assert from_env.role_of("a1") == "auditor" and from_env.role_of(plain["auditor"]) is None
    assert parse_env_tokens('{"authority": "t"}') == {"authority": "t"}
    with pytest.raises(ValueError):
        issue_tokens(tmp_path, env={"LVYUE_TOKENS": "boss=t"})
    with pytest.raises(ValueError):
        parse_env_tokens("no-equals-sign")


def test_errors_are_json(client: TestClient) -> None:
    r = client.get("/no/such/path")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = client.put("/statements", json={})
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    assert client.get("/aggregates/NOT-A-UUID").json()["code"] == "malformed"


def test_portal_and_openapi(client: TestClient, ledger: Ledger) -> None:
    ledger.checkpoint()
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert ledger.origin in page.text and ledger.verifier_key in page.text
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert paths["/log/checkpoint"]["get"]["responses"]["200"]["content"] == {
        "text/plain": {"schema": {"type": "string"}}
    }
    assert "application/jsonl" in paths["/log/entries"]["get"]["responses"]["200"]["content"]
    assert paths["/log/checkpoint"]["get"]["responses"]["429"]["content"]["application/json"]
    assert set(paths["/statements"]["post"]["responses"]) >= {"201", "400", "401", "403", "409", "422"}
    assert "HTTPValidationError" not in json.dumps(spec)


def test_unknown_statement_key_for_other_subject(
    client: TestClient, ledger: Ledger, buyer: Party, supplier: Party
) -> None:
    cid = str(uuid.uuid4())
    terms = make_terms(buyer, supplier)
    from verifier.statement import terms_digest

    body = {"terms": terms, "terms_digest": terms_digest(terms)}
    signed = sign(KeyFile(buyer.subject, supplier.key.seed), ledger.origin, "contract.proposed", cid, 1, body)
    r = client.post("/statements", json=signed)
    assert r.status_code == 401 and r.json()["code"] == "unknown_key"
