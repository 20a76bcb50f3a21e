"""Section 7a rules through the ledger: judgments, objections, repairs; each path and each refusal."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ledger.errors import LedgerError, MalformedInput, RuleRejected
from ledger.parties import Party
from tests.casework.conftest import Scene
from verifier.errors import FormatError
from verifier.statement import validate_body

H = "cd" * 32


def judgment_body(scene: Scene, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "court": "天津市北辰区人民法院",
        "case_number": "(2025)津0113民初1号",
        "kind": "judgment",
        "decided_on": "2025-06-01",
        "parties": [scene.a.subject, scene.b.subject],
        "contract": scene.contract,
        "contract_number": "BC-2025-001",
        "summary_sha256": H,
        "effect": "breach",
        "party": scene.a.subject,
        "milestone": "m1",
        "outcome": "failed",
    }
    body.update(over)
    return body


def record(scene: Scene, **over: Any) -> str:
    jid = str(uuid.uuid4())
    scene.ledger.submit_as_platform("operator", "judgment.recorded", jid, judgment_body(scene, **over))
    return jid


def code_of(exc: pytest.ExceptionInfo[LedgerError]) -> str:
    return exc.value.code


def test_judgment_recorded_linked_and_applied(scene: Scene) -> None:
    led = scene.ledger
    jid = record(scene, contract=None)
    assert led.aggregate(jid)[1].matched is False
    led.submit_as_platform("operator", "judgment.linked", jid, {"contract": scene.contract})
    assert led.aggregate(jid)[1].contract == scene.contract
    with pytest.raises(RuleRejected) as e:
        led.submit_as_platform("operator", "judgment.linked", jid, {"contract": scene.contract})
    assert code_of(e) == "illegal_transition"
    body = {"judgment": jid, "effect": "breach", "party": scene.a.subject, "milestone": "m1", "outcome": "failed"}
    led.submit_as_platform("operator", "judgment.applied", scene.contract, body)
    assert led.aggregate(scene.contract)[1].milestones["m1"].settled_by == "judgment"


def test_judgment_applied_needs_a_recorded_judgment(scene: Scene) -> None:
    body = {"judgment": str(uuid.uuid4()), "effect": "terminate", "party": None, "milestone": None, "outcome": None}
    with pytest.raises(RuleRejected) as e:
        scene.ledger.submit_as_platform("operator", "judgment.applied", scene.contract, body)
    assert code_of(e) == "unknown_judgment"


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"contract": str(uuid.uuid4())}, "unknown_contract"),
        ({"milestone": "m9"}, "unknown_milestone"),
        ({"party": "91120113MA0000029"}, "malformed"),
        ({"decided_on": "2999-01-01"}, "bad_date"),
        ({"effect": "none"}, "malformed"),
        ({"summary_sha256": "xyz"}, "malformed"),
    ],
)
def test_judgment_refusals(scene: Scene, over: dict[str, Any], code: str) -> None:
    with pytest.raises(LedgerError) as e:
        record(scene, **over)
    assert code_of(e) == code
    size = scene.ledger.size()
    assert scene.ledger.size() == size


def test_judgment_party_outside_contract_and_duplicates(scene: Scene) -> None:
    with pytest.raises(RuleRejected) as e:
        record(scene, parties=[scene.a.subject, scene.c.subject], party=scene.a.subject)
    assert code_of(e) == "not_a_party"
    with pytest.raises(RuleRejected) as e:
        record(scene, parties=[scene.a.subject, scene.a.subject])
    assert code_of(e) == "duplicate_party"
    with pytest.raises(RuleRejected) as e:
        record(scene, party=scene.c.subject, contract=None, parties=[scene.a.subject])
    assert code_of(e) == "not_a_party"


def test_judgment_only_by_operator(scene: Scene) -> None:
    with pytest.raises(LedgerError) as e:
        scene.a.submit("judgment.recorded", str(uuid.uuid4()), judgment_body(scene))
    assert code_of(e) == "wrong_role"


def test_record_body_shapes() -> None:
    base = {
        "court": "c",
        "case_number": "1",
        "kind": "award",
        "decided_on": "2025-01-01",
        "parties": ["91350100M000100Y43"],
        "contract": None,
        "contract_number": "",
        "summary_sha256": H,
        "effect": "none",
        "party": None,
        "milestone": None,
        "outcome": None,
    }
    assert validate_body("judgment.recorded", base) == base
    bads: list[dict[str, Any]] = [
        {"kind": "ruling"},
        {"parties": []},
        {"parties": ["91350100m000100y43"]},
        {"effect": "end_dispute", "milestone": "m1"},
        {"effect": "breach"},
        {"effect": "terminate", "outcome": "failed"},
        {"decided_on": "2025-02-30"},
        {"contract": "not-a-uuid"},
    ]
    for bad in bads:
        with pytest.raises(FormatError):
            validate_body("judgment.recorded", {**base, **bad})
    with pytest.raises(FormatError):
        validate_body("objection.filed", {"entry": -1, "reason": "x"})
    with pytest.raises(FormatError):
        validate_body("objection.upheld", {"reason": "x", "correction": " "})
    with pytest.raises(FormatError):
        validate_body("repair.approved", {"severity": "grave", "reason": "x"})
    with pytest.raises(FormatError):
        validate_body("repair.applied", {"entry": True, "commitment": str(uuid.uuid4()), "reason": "x"})


def test_objection_paths(scene: Scene) -> None:
    led = scene.ledger
    oid = str(uuid.uuid4())
    scene.a.submit("objection.filed", oid, {"entry": scene.overdue, "reason": "delivered on time"})
    state = led.aggregate(oid)[1]
    assert state.status == "filed" and state.entry == scene.overdue
    with pytest.raises(LedgerError) as e:
        scene.a.submit("objection.upheld", oid, {"reason": "x", "correction": "y"})
    assert code_of(e) == "wrong_role"
    led.submit_as_platform("operator", "objection.upheld", oid, {"reason": "ok", "correction": "not overdue"})
    assert led.aggregate(oid)[1].status == "upheld"
    with pytest.raises(RuleRejected) as e:
        led.submit_as_platform("operator", "objection.rejected", oid, {"reason": "late"})
    assert code_of(e) == "illegal_transition"


@pytest.mark.parametrize(("entry", "code"), [(10_000, "bad_reference"), (0, "not_concerned")])
def test_objection_refusals(scene: Scene, entry: int, code: str) -> None:
    with pytest.raises(RuleRejected) as e:
        scene.a.submit("objection.filed", str(uuid.uuid4()), {"entry": entry, "reason": "x"})
    assert code_of(e) == code
    with pytest.raises(RuleRejected) as e:
        scene.ledger.submit_as_platform("operator", "objection.rejected", str(uuid.uuid4()), {"reason": "x"})
    assert code_of(e) == "unknown_aggregate"


def make_commitment(party: Party, authority: str, kind: str = "credit_repair") -> str:
    cid = str(uuid.uuid4())
    body = {
        "kind": kind,
        "authority": authority,
        "content": "承诺依法诚信经营",
        "made_on": "2025-06-01",
        "deadline": "2026-06-01",
        "related": None,
    }
    party.submit("commitment.made", cid, body)
    return cid


def test_repair_paths_and_refusals(scene: Scene) -> None:
    led = scene.ledger
    commitment = make_commitment(scene.a, scene.b.subject)
    rid = str(uuid.uuid4())
    body = {"entry": scene.overdue, "commitment": commitment, "reason": "已履行"}
    scene.a.submit("repair.applied", rid, body)
    led.submit_as_platform("operator", "repair.approved", rid, {"severity": "minor", "reason": "ok"})
    assert led.aggregate(rid)[1].withheld
    with pytest.raises(RuleRejected) as e:
        led.submit_as_platform("operator", "repair.rejected", rid, {"reason": "x"})
    assert code_of(e) == "illegal_transition"

    other = make_commitment(scene.a, scene.b.subject, kind="other")
    foreign = make_commitment(scene.c, scene.b.subject)
    for bad, code in (
        ({"entry": scene.consent}, "not_negative"),
        ({"entry": 10_000}, "bad_reference"),
        ({"commitment": other}, "wrong_commitment"),
        ({"commitment": foreign}, "wrong_commitment"),
        ({"commitment": str(uuid.uuid4())}, "unknown_commitment"),
    ):
        with pytest.raises(RuleRejected) as e:
            scene.a.submit("repair.applied", str(uuid.uuid4()), {**body, **bad})
        assert code_of(e) == code, bad
    with pytest.raises(RuleRejected) as e:  # B is not the obligor of m1: not a negative record about B
        scene.b.submit(
            "repair.applied", str(uuid.uuid4()), {**body, "commitment": make_commitment(scene.b, scene.a.subject)}
        )
    assert code_of(e) == "not_negative"


def test_publicity_ended(scene: Scene) -> None:
    led = scene.ledger
    body = {"subject": scene.a.subject, "entry": scene.overdue, "severity": "minor", "as_of": "2025-06-01"}
    led.submit_as_platform("operator", "repair.publicity_ended", str(uuid.uuid4()), body)
    with pytest.raises(RuleRejected) as e:
        led.submit_as_platform("operator", "repair.publicity_ended", str(uuid.uuid4()), {**body, "as_of": "2999-01-01"})
    assert code_of(e) == "bad_date"
    with pytest.raises(RuleRejected) as e:
        led.submit_as_platform(
            "operator", "repair.publicity_ended", str(uuid.uuid4()), {**body, "subject": scene.b.subject}
        )
    assert code_of(e) == "not_negative"
    with pytest.raises(MalformedInput):
        led.submit_as_platform("operator", "repair.publicity_ended", str(uuid.uuid4()), {**body, "severity": "x"})
