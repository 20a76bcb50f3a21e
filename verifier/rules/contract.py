"""Contract aggregates (行政性合同): proposal, consent, amendment, performance, disputes, judgments.

docs/format.md section 7, Contracts. States are immutable; every transition builds a new state and shares
everything it does not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from verifier.errors import RuleViolation
from verifier.rules.common import (
    Facts,
    Outcome,
    concerns,
    date_of,
    evolve,
    require_not_after_statement,
    require_random_aggregate,
    require_signers,
)
from verifier.statement import terms_digest

__all__ = ["ContractState", "JudgmentRecord", "MilestoneState", "apply_contract"]


@dataclass(frozen=True, slots=True)
class MilestoneState:
    """One milestone of a contract: its terms and its performance so far.

    ``status`` is ``open``, ``reported``, ``disputed`` or ``settled``; ``amount_due`` is the amount in the
    terms, ``amount`` the amount performed as reported or resolved; ``settled_by`` is
    ``confirmed``, ``resolved`` or ``judgment`` once settled.
    """

    id: str
    obligor: str
    obligee: str
    due: str
    kind: str
    amount_due: int
    status: str = "open"
    overdue: bool = False
    reported_by: str | None = None
    outcome: str | None = None
    on: str | None = None
    amount: int | None = None
    evidence_sha256: str | None = None
    dispute_reason: str | None = None
    settled_by: str | None = None

    @property
    def settled(self) -> bool:
        """True when confirmed, resolved or settled by a judgment."""
        return self.status == "settled"

    @property
    def on_time(self) -> bool | None:
        """For a settled milestone: performed on or before its due date; None while unsettled or undated."""
        if not self.settled or self.on is None:
            return None
        return self.on <= self.due


@dataclass(frozen=True, slots=True)
class JudgmentRecord:
    """A judgment applied to the contract."""

    judgment: str
    effect: str
    party: str | None
    milestone: str | None
    outcome: str | None


@dataclass(frozen=True, slots=True)
class ContractState:
    """A contract: ``status`` ``proposed``, ``registered``, ``withdrawn`` or ``terminated``.

    ``terms`` is the current terms object (read only), ``parties`` its party subjects sorted, ``consented``
    the parties that consented to the current terms, ``milestones`` maps milestone id to its state.
    """

    status: str
    terms: Mapping[str, Any]
    terms_digest: str
    proposer: str
    parties: tuple[str, ...]
    consented: frozenset[str]
    milestones: Mapping[str, MilestoneState]
    judgments: tuple[JudgmentRecord, ...] = ()

    @property
    def completed(self) -> bool:
        """A registered contract with at least one milestone, every one settled (final)."""
        return (
            self.status == "registered" and bool(self.milestones) and all(m.settled for m in self.milestones.values())
        )

    @property
    def final(self) -> bool:
        """Withdrawn, terminated or completed: no statement is accepted any more."""
        return self.status in ("withdrawn", "terminated") or self.completed


def _check_terms(st: Mapping[str, Any], facts: Facts) -> tuple[str, ...]:
    """Relations between the members of the terms; return the sorted parties."""
    body = st["body"]
    terms = body["terms"]
    if terms_digest(terms) != body["terms_digest"]:
        raise RuleViolation("terms_mismatch", "terms_digest is not the SHA-256 of the canonical terms")
    subjects = [p["subject"] for p in terms["parties"]]
    if len(set(subjects)) != len(subjects):
        raise RuleViolation("duplicate_party", "a subject is listed twice among the parties")
    if len(subjects) < 2:
        raise RuleViolation("too_few_parties", "a contract has at least two distinct parties")
    for s in subjects:
        if not facts.is_registered(s):
            raise RuleViolation("not_registered", f"party {s} is not registered")
    if date_of(terms["starts_on"]) > date_of(terms["ends_on"]):
        raise RuleViolation("bad_date", "starts_on is later than ends_on")
    seen: set[str] = set()
    payments = 0
    for m in terms["milestones"]:
        if m["id"] in seen:
            raise RuleViolation("duplicate_milestone", f"milestone id {m['id']!r} is used twice")
        seen.add(m["id"])
        for who in (m["obligor"], m["obligee"]):
            if who not in subjects:
                raise RuleViolation("not_a_party", f"milestone {m['id']!r}: {who} is not a party")
        if m["obligor"] == m["obligee"]:
            raise RuleViolation("bad_milestone", f"milestone {m['id']!r}: obligor and obligee are the same")
        if m["kind"] == "payment":
            payments += m["amount"]
    if payments > terms["amount"]:
        raise RuleViolation("bad_amount", "the payment milestones add up to more than the contract amount")
    if st["actor"] not in subjects:
        raise RuleViolation("not_a_party", f"{st['actor']} is not a party to the contract")
    return tuple(sorted(subjects))


def _milestone_from_terms(m: Mapping[str, Any]) -> MilestoneState:
    return MilestoneState(m["id"], m["obligor"], m["obligee"], m["due"], m["kind"], m["amount"])


def _proposed(state: ContractState | None, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    if state is not None:
        raise RuleViolation("aggregate_exists", f"contract {st['aggregate']} exists already")
    require_random_aggregate(st["aggregate"])
    parties = _check_terms(st, f)
    require_signers(signers, {st["actor"]}, {st["actor"]})
    terms = st["body"]["terms"]
    milestones = {m["id"]: _milestone_from_terms(m) for m in terms["milestones"]}
    new = ContractState(
        status="proposed",
        terms=terms,
        terms_digest=st["body"]["terms_digest"],
        proposer=st["actor"],
        parties=parties,
        consented=frozenset({st["actor"]}),
        milestones=MappingProxyType(milestones),
    )
    return Outcome(new, concerns(parties, [st["actor"]]))


def _require_party(state: ContractState, actor: str) -> None:
    if actor not in state.parties:
        raise RuleViolation("not_a_party", f"{actor} is not a party to the contract")


def _require_status(state: ContractState, status: str, what: str) -> None:
    if state.status != status or state.completed:
        now = "completed" if state.completed else state.status
        raise RuleViolation("illegal_transition", f"{what} needs a {status} contract; it is {now}")


def _consented(state: ContractState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    actor = st["actor"]
    _require_party(state, actor)
    _require_status(state, "proposed", "contract.consented")
    require_signers(signers, {actor}, {actor})
    if actor in state.consented:
        raise RuleViolation("already_consented", f"{actor} has consented already")
    if st["body"]["terms_digest"] != state.terms_digest:
        raise RuleViolation("terms_mismatch", "terms_digest is not the digest of the proposed terms")
    consented = state.consented | {actor}
    status = "registered" if consented >= set(state.parties) else "proposed"
    return Outcome(evolve(state, consented=consented, status=status), concerns(state.parties, [actor]))


def _withdrawn(state: ContractState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    actor = st["actor"]
    _require_party(state, actor)
    _require_status(state, "proposed", "contract.withdrawn")
    if actor != state.proposer:
        raise RuleViolation("wrong_role", "only the proposer withdraws a proposal")
    require_signers(signers, {actor}, {actor})
    return Outcome(evolve(state, status="withdrawn"), concerns(state.parties, [actor]))


def _joint_all(state: ContractState, st: Mapping[str, Any], signers: frozenset[str], what: str) -> None:
    _require_party(state, st["actor"])
    _require_status(state, "registered", what)
    require_signers(signers, state.parties, state.parties)


def _amended(state: ContractState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    _joint_all(state, st, signers, "contract.amended")
    parties = _check_terms(st, f)
    if parties != state.parties:
        raise RuleViolation("parties_changed", "an amendment keeps the same parties")
    terms = st["body"]["terms"]
    milestones: dict[str, MilestoneState] = {}
    for m in terms["milestones"]:
        old = state.milestones.get(m["id"])
        if old is None:
            milestones[m["id"]] = _milestone_from_terms(m)
            continue
        if old.status != "open" and (
            old.obligor != m["obligor"] or old.obligee != m["obligee"] or old.amount_due != m["amount"]
        ):
            raise RuleViolation(
                "milestone_locked",
                f"milestone {m['id']!r} has performance reported: obligor, obligee and amount stay",
            )
        overdue = old.overdue and old.due == m["due"]
        milestones[m["id"]] = evolve(
            old,
            obligor=m["obligor"],
            obligee=m["obligee"],
            due=m["due"],
            kind=m["kind"],
            amount_due=m["amount"],
            overdue=overdue,
        )
    for mid, old in state.milestones.items():
        if mid not in milestones and old.status != "open":
            raise RuleViolation("milestone_locked", f"milestone {mid!r} has performance reported: it stays")
    new = evolve(
        state,
        terms=terms,
        terms_digest=st["body"]["terms_digest"],
        consented=frozenset(parties),
        milestones=MappingProxyType(milestones),
    )
    return Outcome(new, concerns(parties, [st["actor"]]))


def _terminated(state: ContractState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    _joint_all(state, st, signers, "contract.terminated")
    return Outcome(evolve(state, status="terminated"), concerns(state.parties, [st["actor"]]))


def _milestone(state: ContractState, mid: str) -> MilestoneState:
    m = state.milestones.get(mid)
    if m is None:
        raise RuleViolation("unknown_milestone", f"the contract has no milestone {mid!r}")
    return m


def _with(state: ContractState, m: MilestoneState) -> ContractState:
    milestones = dict(state.milestones)
    milestones[m.id] = m
    return evolve(state, milestones=MappingProxyType(milestones))


def _check_performance(state: ContractState, m: MilestoneState, st: Mapping[str, Any]) -> None:
    body = st["body"]
    on = require_not_after_statement(body["on"], st["time"], "performance date")
    if on < date_of(state.terms["signed_on"]):
        raise RuleViolation("bad_date", "performance date is earlier than the contract's signing date")
    amount, outcome = body["amount"], body["outcome"]
    if amount > m.amount_due:
        raise RuleViolation("bad_amount", f"amount {amount} exceeds the milestone's amount {m.amount_due}")
    if outcome == "fulfilled" and amount != m.amount_due:
        raise RuleViolation("bad_amount", f"a fulfilled milestone performs its whole amount {m.amount_due}")


def _reported(state: ContractState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    actor, body = st["actor"], st["body"]
    _require_party(state, actor)
    _require_status(state, "registered", "performance.reported")
    m = _milestone(state, body["milestone"])
    if actor not in (m.obligor, m.obligee):
        raise RuleViolation("wrong_role", f"only the obligor or obligee of milestone {m.id!r} reports on it")
    require_signers(signers, {actor}, {actor})
    if m.status != "open":
        raise RuleViolation("illegal_transition", f"milestone {m.id!r} is {m.status}, not open")
    _check_performance(state, m, st)
    new_m = evolve(
        m,
        status="reported",
        reported_by=actor,
        outcome=body["outcome"],
        on=body["on"],
        amount=body["amount"],
        evidence_sha256=body["evidence_sha256"],
    )
    return Outcome(_with(state, new_m), concerns(state.parties, [actor]))


def _answer(state: ContractState, st: Mapping[str, Any], signers: frozenset[str], what: str) -> MilestoneState:
    actor = st["actor"]
    _require_party(state, actor)
    _require_status(state, "registered", what)
    m = _milestone(state, st["body"]["milestone"])
    if actor not in (m.obligor, m.obligee):
        raise RuleViolation("wrong_role", f"only the obligor or obligee of milestone {m.id!r} answers a report")
    require_signers(signers, {actor}, {actor})
    if m.status != "reported":
        raise RuleViolation("illegal_transition", f"milestone {m.id!r} is {m.status}, not reported")
    if actor == m.reported_by:
        raise RuleViolation("self_confirmation", f"{actor} reported milestone {m.id!r}; the other side answers")
    return m


def _confirmed(state: ContractState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    m = _answer(state, st, signers, "performance.confirmed")
    new_m = evolve(m, status="settled", settled_by="confirmed")
    return Outcome(_with(state, new_m), concerns(state.parties, [st["actor"]]))


def _disputed(state: ContractState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    m = _answer(state, st, signers, "performance.disputed")
    new_m = evolve(m, status="disputed", dispute_reason=st["body"]["reason"])
    return Outcome(_with(state, new_m), concerns(state.parties, [st["actor"]]))


def _resolved(state: ContractState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    actor, body = st["actor"], st["body"]
    _require_party(state, actor)
    _require_status(state, "registered", "dispute.resolved")
    m = _milestone(state, body["milestone"])
    pair = {m.obligor, m.obligee}
    if actor not in pair:
        raise RuleViolation("wrong_role", f"only the obligor or obligee of milestone {m.id!r} resolves it")
    require_signers(signers, pair, pair)
    if m.status != "disputed":
        raise RuleViolation("illegal_transition", f"milestone {m.id!r} is {m.status}, not disputed")
    _check_performance(state, m, st)
    new_m = evolve(
        m,
        status="settled",
        settled_by="resolved",
        outcome=body["outcome"],
        on=body["on"],
        amount=body["amount"],
    )
    return Outcome(_with(state, new_m), concerns(state.parties, [actor]))


def _overdue(state: ContractState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    actor, body = st["actor"], st["body"]
    if actor != f.operator:
        raise RuleViolation("wrong_role", "milestone.overdue is made by the operator")
    require_signers(signers, {actor}, {actor})
    _require_status(state, "registered", "milestone.overdue")
    m = _milestone(state, body["milestone"])
    if m.status != "open" or m.overdue:
        raise RuleViolation("illegal_transition", f"milestone {m.id!r} is not open and on schedule")
    if date_of(body["as_of"]) <= date_of(m.due):
        raise RuleViolation("bad_date", f"as_of {body['as_of']} is not after the due date {m.due}")
    require_not_after_statement(body["as_of"], st["time"], "as_of")
    return Outcome(_with(state, evolve(m, overdue=True)), concerns(state.parties, [actor]))


def _judgment(state: ContractState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    actor, body = st["actor"], st["body"]
    if actor != f.operator:
        raise RuleViolation("wrong_role", "judgment.applied is made by the operator")
    require_signers(signers, {actor}, {actor})
    _require_status(state, "registered", "judgment.applied")
    if f.judgment_exists is not None and not f.judgment_exists(body["judgment"]):
        raise RuleViolation("unknown_judgment", f"no judgment {body['judgment']} in the log")
    if any(j.judgment == body["judgment"] for j in state.judgments):
        raise RuleViolation("already_applied", f"judgment {body['judgment']} was applied to the contract before")
    effect, party, mid, outcome = body["effect"], body["party"], body["milestone"], body["outcome"]
    record = JudgmentRecord(body["judgment"], effect, party, mid, outcome)
    new = evolve(state, judgments=(*state.judgments, record))
    if effect == "terminate":
        new = evolve(new, status="terminated")
    elif effect == "breach":
        _require_party(state, party)
        if mid is not None:
            m = _milestone(state, mid)
            if party not in (m.obligor, m.obligee):
                raise RuleViolation("wrong_role", f"{party} is neither obligor nor obligee of milestone {mid!r}")
            if m.settled:
                raise RuleViolation("illegal_transition", f"milestone {mid!r} is settled")
            new = _with(new, evolve(m, status="settled", settled_by="judgment", outcome="failed"))
    else:
        m = _milestone(state, mid)
        if m.status != "disputed":
            raise RuleViolation("illegal_transition", f"milestone {mid!r} is {m.status}, not disputed")
        new = _with(new, evolve(m, status="settled", settled_by="judgment", outcome=outcome))
    return Outcome(new, concerns(state.parties, [actor]))


_HANDLERS = {
    "contract.consented": _consented,
    "contract.withdrawn": _withdrawn,
    "contract.amended": _amended,
    "contract.terminated": _terminated,
    "performance.reported": _reported,
    "performance.confirmed": _confirmed,
    "performance.disputed": _disputed,
    "dispute.resolved": _resolved,
    "milestone.overdue": _overdue,
    "judgment.applied": _judgment,
}


def apply_contract(state: object, st: Mapping[str, Any], signers: frozenset[str], facts: Facts) -> Outcome:
    """Apply a contract statement.

    Raises:
        RuleViolation: ``aggregate_exists``, ``unknown_aggregate``, ``wrong_aggregate``, ``terms_mismatch``,
            ``duplicate_party``, ``too_few_parties``, ``not_registered``, ``duplicate_milestone``,
            ``bad_milestone``, ``not_a_party``, ``wrong_role``, ``illegal_transition``, ``already_consented``,
            ``parties_changed``, ``milestone_locked``, ``unknown_milestone``, ``self_confirmation``,
            ``missing_signature``, ``unexpected_signer``, ``bad_date``, ``bad_amount``, ``unknown_judgment``,
            ``already_applied``.
    """
    if state is not None and not isinstance(state, ContractState):
        raise RuleViolation("wrong_aggregate", f"{st['aggregate']} is not a contract")
    if st["type"] == "contract.proposed":
        return _proposed(state, st, signers, facts)
    if state is None:
        raise RuleViolation("unknown_aggregate", f"no contract {st['aggregate']}")
    return _HANDLERS[st["type"]](state, st, signers, facts)
