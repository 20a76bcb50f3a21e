"""Rules of commitment aggregates (信用承诺): made, kept, broken, overdue, and their refusals."""

from __future__ import annotations

from typing import Any

from tests.verifier.test_rules_subject import ACME, GOV, OPERATOR, PERSON, STRANGER, facts, refused, run, st
from verifier.identity import subject_aggregate
from verifier.rules import CommitmentState, SubjectState

AGG = "9a7e2c1b-3d4f-4e5a-8b6c-7d8e9f0a1b2c"
H = "ef" * 32


def made(actor: str = ACME, authority: str = GOV, **changes: Any) -> dict[str, Any]:
    body = {
        "kind": "deficiency_acceptance",
        "authority": authority,
        "content": "在受理后30日内补齐消防验收备案材料",
        "made_on": "2025-03-01",
        "deadline": "2025-03-31",
        "related": None,
    }
    aggregate = changes.pop("aggregate", AGG)
    body.update(changes)
    return st("commitment.made", actor, aggregate, body)


def open_state() -> CommitmentState:
    s = run(None, made()).state
    assert isinstance(s, CommitmentState)
    return s


def kept(actor: str = GOV, on: str = "2025-03-20") -> dict[str, Any]:
    return st("commitment.kept", actor, AGG, {"on": on, "evidence_sha256": H}, version=2)


def broken(actor: str = GOV, on: str = "2025-04-02") -> dict[str, Any]:
    return st("commitment.broken", actor, AGG, {"on": on, "reason": "逾期未补齐材料"}, version=2)


def overdue(actor: str = OPERATOR, as_of: str = "2025-04-01") -> dict[str, Any]:
    return st("commitment.overdue", actor, AGG, {"as_of": as_of}, version=2)


def test_made() -> None:
    out = run(None, made())
    s = out.state
    assert isinstance(s, CommitmentState)
    assert (s.maker, s.authority, s.kind, s.deadline, s.status) == (
        ACME,
        GOV,
        "deficiency_acceptance",
        "2025-03-31",
        "open",
    )
    assert out.concerns == tuple(sorted({ACME, GOV}))
    person = run(None, made(PERSON, related=3), f=facts(index=10)).state
    assert isinstance(person, CommitmentState)
    assert person.related == 3


def test_kept_and_broken() -> None:
    s = open_state()
    k = run(s, kept())
    assert isinstance(k.state, CommitmentState)
    assert (k.state.status, k.state.on, k.state.evidence_sha256) == ("kept", "2025-03-20", H)
    assert k.concerns == tuple(sorted({ACME, GOV}))
    b = run(s, broken()).state
    assert isinstance(b, CommitmentState)
    assert (b.status, b.reason) == ("broken", "逾期未补齐材料")
    assert s.status == "open"


def test_overdue_then_kept_late_or_broken() -> None:
    s = open_state()
    out = run(s, overdue())
    o = out.state
    assert isinstance(o, CommitmentState)
    assert (o.status, o.overdue_as_of) == ("overdue", "2025-04-01")
    assert out.concerns == tuple(sorted({ACME, GOV, OPERATOR}))
    late = run(o, kept(on="2025-04-10")).state
    assert isinstance(late, CommitmentState)
    assert late.status == "kept"
    assert run(o, broken()).state.status == "broken"  # type: ignore[union-attr]
    refused("illegal_transition", o, overdue())


def test_made_refusals() -> None:
    refused("aggregate_exists", open_state(), made())
    refused("wrong_aggregate", None, made(aggregate=subject_aggregate(ACME)))
    refused("not_registered", None, made(STRANGER))
    refused("not_registered", None, made(authority=STRANGER))
    refused("wrong_role", None, made(authority=ACME))
    refused("bad_date", None, made(deadline="2025-02-28"))
    refused("bad_date", None, made(made_on="2025-06-16", deadline="2025-07-01"))
    refused("bad_reference", None, made(related=10), f=facts(index=10))
    refused("unexpected_signer", None, made(), signers={ACME, GOV})
    refused("missing_signature", None, made(), signers={GOV})
    refused("wrong_aggregate", SubjectState(ACME, "enterprise", "甲"), made())


def test_decision_refusals() -> None:
    s = open_state()
    refused("unknown_aggregate", None, kept())
    refused("wrong_role", s, kept(ACME))
    refused("wrong_role", s, broken(OPERATOR))
    refused("bad_date", s, kept(on="2025-02-28"))
    refused("bad_date", s, kept(on="2025-06-16"))
    refused("unexpected_signer", s, kept(), signers={GOV, ACME})
    k = run(s, kept()).state
    refused("illegal_transition", k, broken())
    refused("illegal_transition", k, kept())
    refused("illegal_transition", k, overdue())


def test_overdue_refusals() -> None:
    s = open_state()
    refused("wrong_role", s, overdue(GOV))
    refused("bad_date", s, overdue(as_of="2025-03-31"))
    refused("bad_date", s, overdue(as_of="2025-06-16"))
