"""Rules of contract aggregates: proposal to completion, amendments, disputes, judgments, refusals."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from tests.verifier.test_rules_subject import ACME, BETA, GOV, OPERATOR, STRANGER, facts, refused, run, st
from verifier.identity import subject_aggregate
from verifier.rules import CommitmentState, ContractState, MilestoneState
from verifier.statement import terms_digest

AGG = "6f1c1d9e-6a0b-4c55-9d7e-0c6b0f1e2a3b"
JUDGMENT = "0d5b6a34-0f9e-4c1a-8f0e-2a8f7c9d1e20"
H = "cd" * 32


def terms(**changes: Any) -> dict[str, Any]:
    t: dict[str, Any] = {
        "type": "government_procurement",
        "number": "BC-CG-2025-017",
        "title": "北辰市政务云服务采购",
        "parties": [{"subject": GOV, "role": "采购人"}, {"subject": ACME, "role": "供应商"}],
        "amount": 1_000_000,
        "currency": "CNY",
        "signed_on": "2025-01-10",
        "starts_on": "2025-02-01",
        "ends_on": "2025-12-31",
        "document_sha256": H,
        "disclose_amount": True,
        "milestones": [
            {
                "id": "deliver",
                "obligor": ACME,
                "obligee": GOV,
                "due": "2025-03-31",
                "kind": "delivery",
                "amount": 0,
                "description": "云平台上线",
            },
            {
                "id": "pay",
                "obligor": GOV,
                "obligee": ACME,
                "due": "2025-04-30",
                "kind": "payment",
                "amount": 1_000_000,
                "description": "支付合同价款",
            },
        ],
    }
    t.update(changes)
    return t


def c(type: str, actor: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return st(type, actor, kw.pop("aggregate", AGG), body, **kw)


def proposed(t: dict[str, Any] | None = None, actor: str = GOV, digest: str | None = None, **kw: Any) -> dict[str, Any]:
    t = t or terms()
    return c("contract.proposed", actor, {"terms": t, "terms_digest": digest or terms_digest(t)}, **kw)


def consented(actor: str = ACME, digest: str | None = None) -> dict[str, Any]:
    return c("contract.consented", actor, {"terms_digest": digest or terms_digest(terms())})


def registered_state() -> ContractState:
    s = run(None, proposed()).state
    assert isinstance(s, ContractState)
    s2 = run(s, consented()).state
    assert isinstance(s2, ContractState)
    return s2


def report(
    milestone: str = "deliver",
    actor: str = ACME,
    outcome: str = "fulfilled",
    on: str = "2025-03-30",
    amount: int = 0,
) -> dict[str, Any]:
    body = {"milestone": milestone, "outcome": outcome, "on": on, "amount": amount, "evidence_sha256": H}
    return c("performance.reported", actor, body)


def confirm(milestone: str = "deliver", actor: str = GOV) -> dict[str, Any]:
    return c("performance.confirmed", actor, {"milestone": milestone})


def dispute(milestone: str = "deliver", actor: str = GOV) -> dict[str, Any]:
    return c("performance.disputed", actor, {"milestone": milestone, "reason": "验收不合格"})


def resolve(
    milestone: str = "deliver",
    actor: str = ACME,
    outcome: str = "partial",
    amount: int = 0,
    on: str = "2025-04-05",
) -> dict[str, Any]:
    return c("dispute.resolved", actor, {"milestone": milestone, "outcome": outcome, "on": on, "amount": amount})


def judgment(
    effect: str, party: str | None = None, milestone: str | None = None, outcome: str | None = None
) -> dict[str, Any]:
    body = {
        "judgment": JUDGMENT,
        "effect": effect,
        "party": party,
        "milestone": milestone,
        "outcome": outcome,
    }
    return c("judgment.applied", OPERATOR, body)


def step(state: Any, statement: dict[str, Any], signers: Any = None, **kw: Any) -> ContractState:
    out = run(state, statement, signers, **kw)
    assert isinstance(out.state, ContractState)
    return out.state


def test_proposal_consent_registration() -> None:
    out = run(None, proposed())
    s = out.state
    assert isinstance(s, ContractState)
    assert s.status == "proposed"
    assert s.proposer == GOV
    assert s.consented == frozenset({GOV})
    assert s.parties == tuple(sorted({GOV, ACME}))
    assert out.concerns == s.parties
    assert set(s.milestones) == {"deliver", "pay"}
    assert s.milestones["pay"].amount_due == 1_000_000
    assert not s.completed
    s2 = step(s, consented())
    assert s2.status == "registered"
    assert s.status == "proposed"  # never mutated


def test_three_party_contract_registers_after_all_consent() -> None:
    t = terms(
        parties=[
            {"subject": GOV, "role": "甲方"},
            {"subject": ACME, "role": "乙方"},
            {"subject": BETA, "role": "丙方"},
        ]
    )
    s = step(None, proposed(t))
    s = step(s, consented(ACME, terms_digest(t)))
    assert s.status == "proposed"
    s = step(s, consented(BETA, terms_digest(t)))
    assert s.status == "registered"


def test_full_performance_to_completion() -> None:
    s = registered_state()
    s = step(s, report())
    m = s.milestones["deliver"]
    assert (m.status, m.reported_by, m.outcome, m.on) == ("reported", ACME, "fulfilled", "2025-03-30")
    s = step(s, confirm())
    assert s.milestones["deliver"].settled
    assert s.milestones["deliver"].settled_by == "confirmed"
    assert s.milestones["deliver"].on_time is True
    assert not s.completed
    # the obligee may report too; the obligor then confirms
    s = step(s, report("pay", ACME, "fulfilled", "2025-05-10", 1_000_000))
    s = step(s, confirm("pay", GOV))
    assert s.milestones["pay"].on_time is False  # late
    assert s.completed
    assert s.final
    refused("illegal_transition", s, c("contract.terminated", GOV, {"reason": "x"}), signers={GOV, ACME})


def test_dispute_and_resolution() -> None:
    s = step(registered_state(), report())
    s = step(s, dispute())
    assert s.milestones["deliver"].status == "disputed"
    assert s.milestones["deliver"].dispute_reason == "验收不合格"
    refused("missing_signature", s, resolve())
    refused("unexpected_signer", s, resolve(), signers={ACME, GOV, BETA})
    refused("not_a_party", s, resolve(actor=BETA), signers={BETA})
    s2 = step(s, resolve(), signers={ACME, GOV})
    m = s2.milestones["deliver"]
    assert (m.status, m.outcome, m.on, m.settled_by) == ("settled", "partial", "2025-04-05", "resolved")
    refused("illegal_transition", s2, resolve(), signers={ACME, GOV})
    refused("illegal_transition", s2, report())


def test_overdue_then_late_report() -> None:
    s = registered_state()
    od = c("milestone.overdue", OPERATOR, {"milestone": "deliver", "as_of": "2025-04-01"})
    s = step(s, od)
    assert s.milestones["deliver"].overdue
    refused("illegal_transition", s, od)
    s = step(s, report(on="2025-04-10"))
    assert s.milestones["deliver"].status == "reported"
    assert s.milestones["deliver"].overdue
    refused(
        "illegal_transition",
        s,
        c("milestone.overdue", OPERATOR, {"milestone": "deliver", "as_of": "2025-04-02"}),
    )


def test_overdue_refusals() -> None:
    s = registered_state()
    refused("wrong_role", s, c("milestone.overdue", GOV, {"milestone": "deliver", "as_of": "2025-04-01"}))
    refused("bad_date", s, c("milestone.overdue", OPERATOR, {"milestone": "deliver", "as_of": "2025-03-31"}))
    refused("bad_date", s, c("milestone.overdue", OPERATOR, {"milestone": "pay", "as_of": "2025-06-16"}))
    refused("unknown_milestone", s, c("milestone.overdue", OPERATOR, {"milestone": "x", "as_of": "2025-04-01"}))
    refused(
        "illegal_transition",
        step(None, proposed()),
        c("milestone.overdue", OPERATOR, {"milestone": "deliver", "as_of": "2025-04-01"}),
    )


def test_withdrawal() -> None:
    s = step(None, proposed())
    refused("wrong_role", s, c("contract.withdrawn", ACME, {"reason": ""}))
    refused("not_a_party", s, c("contract.withdrawn", BETA, {"reason": ""}))
    w = step(s, c("contract.withdrawn", GOV, {"reason": "预算调整"}))
    assert w.status == "withdrawn"
    assert w.final
    refused("illegal_transition", w, consented())
    refused("illegal_transition", registered_state(), c("contract.withdrawn", GOV, {"reason": ""}))


def test_termination_is_joint() -> None:
    s = registered_state()
    t = c("contract.terminated", ACME, {"reason": "协商解除"})
    refused("missing_signature", s, t)
    refused("unexpected_signer", s, t, signers={ACME, GOV, OPERATOR})
    out = step(s, t, signers={ACME, GOV})
    assert out.status == "terminated"
    refused("illegal_transition", out, report())
    refused("illegal_transition", step(None, proposed()), t, signers={ACME, GOV})


def test_proposal_refusals() -> None:
    refused("terms_mismatch", None, proposed(digest=H))
    t = terms(parties=[{"subject": GOV, "role": "甲方"}, {"subject": GOV, "role": "乙方"}])
    refused("duplicate_party", None, proposed(t))
    t = terms(parties=[{"subject": GOV, "role": "甲方"}], milestones=[])
    refused("too_few_parties", None, proposed(t))
    t = terms(parties=[{"subject": GOV, "role": "甲方"}, {"subject": STRANGER, "role": "乙方"}], milestones=[])
    refused("not_registered", None, proposed(t))
    refused("not_a_party", None, proposed(actor=BETA))
    ms = terms()["milestones"]
    refused("duplicate_milestone", None, proposed(terms(milestones=[ms[0], ms[0]])))
    refused("bad_milestone", None, proposed(terms(milestones=[{**ms[0], "obligee": ACME}])))
    refused("not_a_party", None, proposed(terms(milestones=[{**ms[0], "obligee": BETA}])))
    refused("bad_amount", None, proposed(terms(amount=999_999)))
    refused("bad_date", None, proposed(terms(starts_on="2026-01-01")))
    refused("wrong_aggregate", None, proposed(aggregate=subject_aggregate(ACME)))
    refused("unexpected_signer", None, proposed(), signers={GOV, ACME})
    refused("missing_signature", None, proposed(), signers={ACME})
    refused("aggregate_exists", registered_state(), proposed())


def test_kind_of_aggregate_and_existence() -> None:
    refused("unknown_aggregate", None, consented())
    cs = CommitmentState(ACME, GOV, "other", "x", "2025-01-01", "2025-02-01", None)
    refused("wrong_aggregate", cs, consented())


def test_consent_refusals() -> None:
    s = step(None, proposed())
    refused("already_consented", s, consented(GOV))
    refused("terms_mismatch", s, consented(digest=H))
    refused("not_a_party", s, consented(BETA))
    refused("illegal_transition", registered_state(), consented())
    refused("unexpected_signer", s, consented(), signers={ACME, GOV})


def test_performance_refusals() -> None:
    s = registered_state()
    refused("illegal_transition", step(None, proposed()), report())
    refused("unknown_milestone", s, report("nope"))
    refused("not_a_party", s, report("deliver", BETA))
    refused("bad_amount", s, report("pay", GOV, "partial", "2025-04-30", 1_000_001))
    refused("bad_amount", s, report("pay", GOV, "fulfilled", "2025-04-30", 999_999))
    refused("bad_date", s, report(on="2025-01-09"))  # before signing
    refused("bad_date", s, report(on="2025-06-16"))  # after the statement's date (UTC+8)
    step(s, report(on="2025-06-15"))
    refused("unexpected_signer", s, report(), signers={ACME, GOV})
    r = step(s, report())
    refused("illegal_transition", r, report())
    refused("self_confirmation", r, confirm(actor=ACME))
    refused("self_confirmation", r, dispute(actor=ACME))
    refused("illegal_transition", s, confirm())
    refused("illegal_transition", s, dispute())
    refused("not_a_party", r, confirm(actor=BETA))


def test_report_by_party_outside_milestone() -> None:
    t = terms(
        parties=[
            {"subject": GOV, "role": "甲方"},
            {"subject": ACME, "role": "乙方"},
            {"subject": BETA, "role": "丙方"},
        ]
    )
    s = step(None, proposed(t))
    s = step(s, consented(ACME, terms_digest(t)))
    s = step(s, consented(BETA, terms_digest(t)))
    refused("wrong_role", s, report("deliver", BETA))
    r = step(s, report())
    refused("wrong_role", r, confirm(actor=BETA))


def amend(t: dict[str, Any], actor: str = GOV) -> dict[str, Any]:
    return c("contract.amended", actor, {"terms": t, "terms_digest": terms_digest(t)})


def test_amendment() -> None:
    s = step(step(registered_state(), report()), confirm())
    ms = terms()["milestones"]
    new_ms = [ms[0], {**ms[1], "due": "2025-05-31"}, {**ms[1], "id": "bonus", "amount": 0, "kind": "other"}]
    t = terms(milestones=new_ms, title="北辰市政务云服务采购（补充协议）")
    refused("missing_signature", s, amend(t))
    a = step(s, amend(t), signers={GOV, ACME})
    assert a.terms_digest == terms_digest(t)
    assert a.milestones["deliver"] == s.milestones["deliver"]
    assert a.milestones["pay"].due == "2025-05-31"
    assert a.milestones["bonus"].status == "open"
    assert a.status == "registered"


def test_amendment_refusals() -> None:
    s = step(registered_state(), report())
    ms = terms()["milestones"]
    t = terms(parties=[{"subject": GOV, "role": "甲方"}, {"subject": BETA, "role": "乙方"}], milestones=[])
    refused("parties_changed", s, amend(t), signers={GOV, ACME})
    refused("milestone_locked", s, amend(terms(milestones=[ms[1]])), signers={GOV, ACME})
    locked = [{**ms[0], "obligor": GOV, "obligee": ACME}, ms[1]]
    refused("milestone_locked", s, amend(terms(milestones=locked)), signers={GOV, ACME})
    bad = amend(terms())
    bad["body"]["terms_digest"] = H
    refused("terms_mismatch", s, bad, signers={GOV, ACME})
    refused("unexpected_signer", s, amend(terms()), signers={GOV, ACME, BETA})
    refused("illegal_transition", step(None, proposed()), amend(terms()), signers={GOV, ACME})


def test_amendment_clears_overdue_only_when_due_moves() -> None:
    s = step(registered_state(), c("milestone.overdue", OPERATOR, {"milestone": "deliver", "as_of": "2025-04-01"}))
    ms = terms()["milestones"]
    same = step(s, amend(terms(title="更正标题")), signers={GOV, ACME})
    assert same.milestones["deliver"].overdue
    moved = step(s, amend(terms(milestones=[{**ms[0], "due": "2025-07-31"}, ms[1]])), signers={GOV, ACME})
    assert not moved.milestones["deliver"].overdue
    dropped = step(s, amend(terms(milestones=[ms[1]])), signers={GOV, ACME})
    assert "deliver" not in dropped.milestones


def test_judgment_breach_settles_failed() -> None:
    s = registered_state()
    out = run(s, judgment("breach", GOV, "pay", "failed"))
    n = out.state
    assert isinstance(n, ContractState)
    m = n.milestones["pay"]
    assert (m.status, m.outcome, m.settled_by) == ("settled", "failed", "judgment")
    assert n.judgments[0].effect == "breach"
    assert n.judgments[0].party == GOV
    assert OPERATOR in out.concerns
    only_party = step(s, judgment("breach", ACME))
    assert only_party.milestones == s.milestones
    assert only_party.judgments[0].party == ACME
    refused("already_applied", n, judgment("breach", ACME))


def test_judgment_terminate_and_end_dispute() -> None:
    s = registered_state()
    assert step(s, judgment("terminate")).status == "terminated"
    d = step(step(s, report()), dispute())
    e = step(d, judgment("end_dispute", None, "deliver", "fulfilled"))
    m = e.milestones["deliver"]
    assert (m.status, m.outcome, m.on) == ("settled", "fulfilled", "2025-03-30")
    refused("illegal_transition", s, judgment("end_dispute", None, "deliver", "fulfilled"))


def test_judgment_refusals() -> None:
    s = registered_state()
    refused("wrong_role", s, c("judgment.applied", GOV, judgment("terminate")["body"]))
    refused("unknown_judgment", s, judgment("terminate"), f=facts(judgments=set()))
    step(s, judgment("terminate"), f=facts(judgments={JUDGMENT}))
    refused("not_a_party", s, judgment("breach", BETA))
    refused("unknown_milestone", s, judgment("breach", GOV, "nope"))
    refused("unknown_milestone", s, judgment("end_dispute", None, "nope", "failed"))
    t = terms(
        parties=[
            {"subject": GOV, "role": "甲方"},
            {"subject": ACME, "role": "乙方"},
            {"subject": BETA, "role": "丙方"},
        ]
    )
    s3 = step(step(step(None, proposed(t)), consented(ACME, terms_digest(t))), consented(BETA, terms_digest(t)))
    refused("wrong_role", s3, judgment("breach", BETA, "pay"))
    settled = step(step(s, report()), confirm())
    refused("illegal_transition", settled, judgment("breach", ACME, "deliver", "failed"))
    refused("illegal_transition", step(None, proposed()), judgment("terminate"))
    refused("unexpected_signer", s, judgment("terminate"), signers={OPERATOR, GOV})


def test_states_are_frozen_and_cheap_to_copy() -> None:
    s = registered_state()
    with pytest.raises(AttributeError):
        s.status = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.milestones["deliver"] = MilestoneState("x", ACME, GOV, "2025-01-01", "other", 0)  # type: ignore[index]
    before = copy.deepcopy(dict(s.milestones))
    step(s, report())
    assert dict(s.milestones) == before
    assert replace(s, status="terminated").milestones is s.milestones
