"""Credit histories, grades, reports, subject lists, indicators and the batch check over HTTP, from the projections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from api.routes.credit import IndicatorOut
from api.views import current_projections
from ledger.parties import Party, register
from ledger.projections.tables import COUNTERS
from ledger.service import Ledger
from tests.api.conftest import AUDITOR, OPERATOR, registered_contract
from verifier.errors import VerificationError
from verifier.identity import make_credit_code, mask_subject_id, pseudonym
from verifier.report import check_report

EVIDENCE = "cd" * 32


def _deliver(supplier: Party, buyer: Party, cid: str) -> None:
    """The supplier reports m1 delivered on time and the buyer confirms it."""
    body = {"milestone": "m1", "outcome": "fulfilled", "on": "2026-02-27", "amount": 0, "evidence_sha256": EVIDENCE}
    supplier.submit("performance.reported", cid, body)
    buyer.submit("performance.confirmed", cid, {"milestone": "m1"})


@pytest.fixture
def story(ledger: Ledger, supplier: Party, buyer: Party) -> dict[str, str]:
    """An undisclosed contract: m1 delivered on time (supplier), m2 payment of 100 000 left unpaid (the buyer, a
    government body, owes it: overdue and arrears); a disclosed contract with nothing performed."""
    hidden = registered_contract(buyer, supplier, disclose=False)
    _deliver(supplier, buyer, hidden)
    shown = registered_contract(buyer, supplier, disclose=True)
    return {"hidden": hidden, "shown": shown}


def test_history_full_and_public(client: TestClient, story: dict[str, str], buyer: Party, supplier: Party) -> None:
    full = client.get(f"/subjects/{buyer.subject}/history", headers=OPERATOR)
    assert full.status_code == 200
    h = full.json()
    assert h["view"] == "full" and h["subject"] == buyer.subject and h["kind"] == "government"
    overdue = {(o["contract"], o["milestone"]): o for o in h["overdue"]}
    assert overdue[(story["hidden"], "m2")]["amount"] == 100000
    assert overdue[(story["shown"], "m2")]["amount"] == 100000
    assert h["figures"]["milestones.overdue_open"]["value"] == 2
    # every figure names the entries behind it, all of them among the history's entries
    assert h["figures"]["milestones.overdue_open"]["entries"]
    for fig in h["figures"].values():
        assert set(fig["entries"]) <= set(h["entries"])

    public = client.get(f"/subjects/{buyer.subject}/history").json()
    assert public["view"] == "public" and public["subject"] == mask_subject_id(buyer.subject)
    overdue = {(o["contract"], o["milestone"]): o for o in public["overdue"]}
    assert overdue[(story["hidden"], "m2")]["amount"] is None  # not disclosed
    assert overdue[(story["shown"], "m2")]["amount"] == 100000  # disclosed
    assert public["figures"]["milestones.overdue_open"] == h["figures"]["milestones.overdue_open"]

    # a government body's unpaid payments are arrears: counted for all, the amount for roles only
    assert public["figures"]["arrears.count"]["value"] == 2 and public["figures"]["arrears.amount"]["value"] is None
    assert h["figures"]["arrears.amount"]["value"] == 200000
    assert public["arrears"][0]["amount"] is None or public["arrears"][0]["contract"] == story["shown"]
    supplier_view = client.get(f"/subjects/{supplier.subject}/history", headers=AUDITOR).json()
    assert supplier_view["figures"]["arrears.count"]["value"] == 0


def test_history_as_of(client: TestClient, story: dict[str, str], buyer: Party) -> None:
    before = client.get(f"/subjects/{buyer.subject}/history", params={"as_of": "2026-03-15"}).json()
    assert before["as_of"] == "2026-03-15"
    assert before["figures"]["milestones.overdue_open"]["value"] == 0  # payment due 2026-04-01
    r = client.get(f"/subjects/{buyer.subject}/history", params={"as_of": "2026-13-01"})
    assert r.status_code == 400 and r.json()["code"] == "bad_date"
    assert client.get(f"/subjects/{buyer.subject}/history", params={"as_of": "yesterday"}).status_code == 400


def test_grade(client: TestClient, ledger: Ledger, story: dict[str, str], buyer: Party, supplier: Party) -> None:
    g = client.get(f"/subjects/{buyer.subject}/grade", headers=OPERATOR).json()
    expected = current_projections(ledger).grade(buyer.subject)
    assert (g["score"], g["grade"]) == (expected.score, expected.grade)
    assert [f["name"] for f in g["factors"]] == [f.name for f in expected.factors]
    overdue = next(f for f in g["factors"] if f["name"] == "overdue")
    assert overdue["points"] < 0 and overdue["entries"]
    earlier = client.get(f"/subjects/{buyer.subject}/grade", params={"as_of": "2026-03-15"}).json()
    assert earlier["as_of"] == "2026-03-15" and earlier["score"] > g["score"]
    assert client.get(f"/subjects/{supplier.subject}/grade").json()["subject"] == mask_subject_id(supplier.subject)


def test_unknown_and_malformed_subjects(client: TestClient) -> None:
    unknown = make_credit_code("91120113MA0999999")
    for path in ("history", "grade", "report", "report.html"):
        r = client.get(f"/subjects/{unknown}/{path}")
        assert r.status_code == 404 and r.json()["code"] == "unknown_subject"
        r = client.get(f"/subjects/not-a-code/{path}")
        assert r.status_code == 400 and r.json()["code"] == "malformed"


def test_report_over_http_verifies(client: TestClient, ledger: Ledger, story: dict[str, str], buyer: Party) -> None:
    r = client.get(f"/subjects/{buyer.subject}/report")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    report = r.json()
    summary = check_report(report, ledger.verifier_key)
    assert summary.subject == buyer.subject
    assert [e["index"] for e in report["entries"]] == report["history"]["entries"][: len(report["entries"])]
    assert report["grade"]["grade"] == client.get(f"/subjects/{buyer.subject}/grade").json()["grade"]

    # a flipped bit in an entry or a changed figure is caught
    tampered: dict[str, Any] = orjson.loads(orjson.dumps(report))
    tampered["history"]["figures"]["milestones.overdue_open"]["value"] = 0
    with pytest.raises(VerificationError) as bad:
        check_report(tampered, ledger.verifier_key)
    assert bad.value.kind == "report"
    tampered = orjson.loads(orjson.dumps(report))
    proof = tampered["entries"][-1]["proof"]
    proof[0] = ("A" if proof[0][0] != "A" else "B") + proof[0][1:]
    with pytest.raises(VerificationError) as bad:
        check_report(tampered, ledger.verifier_key)
    assert bad.value.kind in ("inclusion", "malformed")

    dated = client.get(f"/subjects/{buyer.subject}/report", params={"as_of": "2026-03-15"}).json()
    assert dated["as_of"] == "2026-03-15" and check_report(dated, ledger.verifier_key).subject == buyer.subject

    html = client.get(f"/subjects/{buyer.subject}/report.html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "信用报告" in html.text and "<svg" in html.text and "Noto Sans CJK SC" in html.text


def test_report_of_a_person_needs_a_role(client: TestClient, ledger: Ledger) -> None:
    person = register(ledger, pseudonym(b"k" * 32, "11010519491231002X"), "person", "")
    r = client.get(f"/subjects/{person.subject}/report")
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert client.get(f"/subjects/{person.subject}/report.html").status_code == 403
    full = client.get(f"/subjects/{person.subject}/report", headers=AUDITOR)
    assert full.status_code == 200
    assert check_report(full.json(), ledger.verifier_key).subject == person.subject
    assert client.get(f"/subjects/{person.subject}/grade").json()["subject"] == mask_subject_id(person.subject)


def test_subject_list(client: TestClient, story: dict[str, str], buyer: Party, supplier: Party) -> None:
    full = client.get("/subjects", headers=OPERATOR).json()
    by_subject = {s["subject"]: s for s in full["subjects"]}
    assert full["view"] == "full" and full["total"] == len(full["subjects"])
    assert buyer.subject in by_subject and supplier.subject in by_subject
    assert by_subject[buyer.subject]["overdue_open"] == 2 and by_subject[buyer.subject]["kind"] == "government"
    assert by_subject[buyer.subject]["arrears_amount"] == 200000
    scores = [s["score"] for s in full["subjects"]]
    assert scores == sorted(scores)

    grade = by_subject[buyer.subject]["grade"]
    only = client.get("/subjects", params={"grade": grade}, headers=OPERATOR).json()
    assert only["subjects"] and all(s["grade"] == grade for s in only["subjects"])
    assert len(client.get("/subjects", params={"limit": 1}, headers=OPERATOR).json()["subjects"]) == 1
    assert client.get("/subjects", params={"limit": 0}).status_code == 400
    assert client.get("/subjects", params={"grade": "E"}).status_code == 400

    public = client.get("/subjects").json()
    assert public["view"] == "public"
    assert {s["subject"] for s in public["subjects"]} >= {mask_subject_id(buyer.subject)}
    assert all(s["arrears_amount"] is None for s in public["subjects"])
    assert buyer.subject not in orjson.dumps(public).decode()

    # search: a whole id for everyone, a prefix for a role only
    found = client.get("/subjects", params={"q": buyer.subject}).json()
    assert [s["subject"] for s in found["subjects"]] == [mask_subject_id(buyer.subject)]
    assert client.get("/subjects", params={"q": buyer.subject[:8]}).status_code == 400
    prefixed = client.get("/subjects", params={"q": buyer.subject[:10]}, headers=OPERATOR).json()
    assert buyer.subject in {s["subject"] for s in prefixed["subjects"]}


def test_indicators(client: TestClient, story: dict[str, str]) -> None:
    rows = client.get("/indicators", params={"by": "type"}).json()["rows"]
    procurement = next(r for r in rows if r["contract_type"] == "government_procurement")
    assert procurement["contracts_proposed"] == 2 and procurement["contracts_registered"] == 2
    assert procurement["registration_rate"] == 10000
    assert procurement["milestones_settled"] == 1 and procurement["on_time_rate"] == 10000
    assert all("month" not in r or r["month"] is None for r in rows)
    months = client.get("/indicators", params={"by": "month"}).json()
    assert months["by"] == "month" and all(r["contract_type"] is None for r in months["rows"])
    assert sum(r["subjects_registered"] for r in months["rows"]) >= 2
    both = client.get("/indicators").json()
    assert both["by"] == "month_type" and all(r["month"] and r["contract_type"] is not None for r in both["rows"])
    assert client.get("/indicators", params={"by": "year"}).status_code == 400
    assert set(COUNTERS) <= set(IndicatorOut.model_fields)


def test_check_reads_the_projections_in_few_queries(
    client: TestClient, ledger: Ledger, story: dict[str, str], buyer: Party, supplier: Party
) -> None:
    client.get("/check", params={"codes": buyer.subject})  # bring the projections and today's rows up to date
    projections = current_projections(ledger)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    unknown = [make_credit_code(f"91330100MA{n:07d}") for n in range(1, 999)]
    codes = [buyer.subject, *unknown, supplier.subject]
    event.listen(projections.engine, "before_cursor_execute", count)
    try:
        r = client.post("/check", json={"codes": codes})
    finally:
        event.remove(projections.engine, "before_cursor_execute", count)
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["subject"] for x in results] == codes
    first, last = results[0], results[-1]
    g = projections.grade(buyer.subject)
    assert first["registered"] and (first["score"], first["grade"]) == (g.score, g.grade)
    assert first["overdue_milestones"] == 2 and first["broken_commitments"] == 0
    assert last["registered"] and last["overdue_milestones"] == 1  # m1 of the disclosed contract
    assert not any(x["registered"] for x in results[1:-1])
    # 1000 codes: one read of the position, and one query per 500 codes
    queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) <= 3, queries


def test_new_statements_show_in_credit_reads(
    client: TestClient, story: dict[str, str], buyer: Party, supplier: Party
) -> None:
    before = client.get(f"/subjects/{buyer.subject}/history").json()["figures"]["milestones.overdue_open"]["value"]
    body = {
        "milestone": "m2",
        "outcome": "fulfilled",
        "on": "2026-05-01",
        "amount": 100000,
        "evidence_sha256": EVIDENCE,
    }
    buyer.submit("performance.reported", story["shown"], body)
    supplier.submit("performance.confirmed", story["shown"], {"milestone": "m2"})
    after = client.get(f"/subjects/{buyer.subject}/history").json()["figures"]
    assert after["milestones.overdue_open"]["value"] == before - 1
    assert after["milestones.late"]["value"] == 1


def test_role_reads_are_logged(client: TestClient, buyer: Party, tmp_path: Path) -> None:
    assert client.get(f"/subjects/{buyer.subject}/grade", headers=OPERATOR).status_code == 200
    lines = [orjson.loads(line) for line in (tmp_path / "access.jsonl").read_bytes().splitlines()]
    assert any(x["role"] == "operator" and x["target"] == f"/subjects/{buyer.subject}/grade" for x in lines)


def test_openapi_documents_the_credit_routes(app: FastAPI, client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/subjects/{subject}/history",
        "/subjects/{subject}/grade",
        "/subjects/{subject}/report",
        "/subjects/{subject}/report.html",
        "/subjects",
        "/indicators",
    ):
        assert path in paths, path
        assert "404" in paths[path]["get"]["responses"] or path in ("/subjects", "/indicators")
    report = paths["/subjects/{subject}/report"]["get"]["responses"]
    assert "403" in report and "ReportOut" in str(report["200"])
