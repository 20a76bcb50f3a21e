"""Repair aggregates (信用修复): ``repair.applied``, ``repair.approved``, ``repair.rejected``,
``repair.publicity_ended`` (docs/format-judgments.md).

A subject applies for the repair of a negative record about it, with a credit-repair commitment (信用修复型);
the operator approves or rejects. The operator's clock ends the publicity of a record whose maximum period is
over. Either way the record stays in the log; it stops being publicly disclosed and counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from verifier.errors import RuleViolation
from verifier.rules.commitment import CommitmentState
from verifier.rules.common import (
    Facts,
    Outcome,
    concerns,
    require_not_after_statement,
    require_random_aggregate,
    require_signers,
)
from verifier.rules.contract import ContractState
from verifier.rules.objection import earlier_entry_concerning

__all__ = ["NEGATIVE_TYPES", "RECORD_KINDS", "RepairState", "apply_repair", "record_kind"]

RECORD_KINDS = ("overdue", "failed", "judgment", "commitment_broken", "commitment_overdue")
NEGATIVE_TYPES = frozenset(
    {
        "milestone.overdue",
        "performance.confirmed",
        "dispute.resolved",
        "judgment.applied",
        "commitment.broken",
        "commitment.overdue",
    }
)


@dataclass(frozen=True, slots=True)
class RepairState:
    """A repair case: ``status`` ``applied``, ``approved``, ``rejected`` or ``ended`` (publicity over).

    ``commitment`` is the credit-repair commitment (None for a case opened by the end of publicity).
    """

    subject: str
    entry: int
    commitment: str | None
    status: str
    severity: str | None = None
    reason: str | None = None
    decision: str | None = None

    @property
    def withheld(self) -> bool:
        """True when the record is no longer publicly disclosed (approved repair or publicity ended)."""
        return self.status in ("approved", "ended")


def record_kind(
    statement: Mapping[str, Any], subject: str, state_of: Callable[[str], object | None] | None = None
) -> str | None:
    """What kind of negative record about ``subject`` a statement is, or None when it is none.

    ``overdue`` (``milestone.overdue`` of a milestone ``subject`` owes), ``failed`` (a confirmation or
    resolution settling such a milestone ``failed``), ``judgment`` (``judgment.applied`` with ``party`` =
    ``subject``), ``commitment_broken`` / ``commitment_overdue`` (of a commitment ``subject`` made).
    ``state_of(aggregate)`` gives the current state of the statement's aggregate when known; without it only
    the statement itself is read. Raises nothing.
    """
    stype = statement.get("type")
    body = statement.get("body")
    if stype not in NEGATIVE_TYPES or not isinstance(body, Mapping):
        return None
    if stype == "judgment.applied":
        return "judgment" if body.get("party") == subject else None
    state = state_of(str(statement.get("aggregate"))) if state_of is not None else None
    if stype in ("commitment.broken", "commitment.overdue"):
        if isinstance(state, CommitmentState) and state.maker != subject:
            return None
        return "commitment_broken" if stype == "commitment.broken" else "commitment_overdue"
    milestone = None
    if isinstance(state, ContractState):
        milestone = state.milestones.get(str(body.get("milestone")))
        if milestone is not None and milestone.obligor != subject:
            return None
    if stype == "milestone.overdue":
        return "overdue"
    if stype == "dispute.resolved":
        return "failed" if body.get("outcome") == "failed" else None
    if milestone is not None:  # performance.confirmed: the outcome is the report's
        return "failed" if milestone.outcome == "failed" and milestone.settled_by == "confirmed" else None
    return None if state_of is not None else "failed"


def _negative(entry: int, subject: str, f: Facts) -> None:
    statement = earlier_entry_concerning(entry, subject, f)
    if statement is not None and record_kind(statement, subject, f.aggregate_state) is None:
        raise RuleViolation("not_negative", f"entry {entry} is not a negative record about {subject}")


def _applied(state: object, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    if state is not None:
        raise RuleViolation("aggregate_exists", f"repair {st['aggregate']} exists already")
    require_random_aggregate(st["aggregate"])
    actor, body = st["actor"], st["body"]
    require_signers(signers, {actor}, {actor})
    if not f.is_registered(actor):
        raise RuleViolation("not_registered", f"{actor} is not registered")
    _negative(body["entry"], actor, f)
    if f.aggregate_state is not None:
        commitment = f.aggregate_state(body["commitment"])
        if not isinstance(commitment, CommitmentState):
            raise RuleViolation("unknown_commitment", f"no commitment {body['commitment']} in the log")
        if commitment.kind != "credit_repair" or commitment.maker != actor or commitment.status == "broken":
            raise RuleViolation(
                "wrong_commitment", "a repair needs a credit_repair commitment made by the applicant and not broken"
            )
    new = RepairState(actor, body["entry"], body["commitment"], "applied", reason=body["reason"])
    return Outcome(new, concerns([actor]))


def _require_operator(st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> None:
    if st["actor"] != f.operator:
        raise RuleViolation("wrong_role", f"{st['type']} is made by the operator")
    require_signers(signers, {st["actor"]}, {st["actor"]})


def _publicity_ended(state: object, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    if state is not None:
        raise RuleViolation("aggregate_exists", f"repair {st['aggregate']} exists already")
    require_random_aggregate(st["aggregate"])
    _require_operator(st, signers, f)
    body = st["body"]
    subject = body["subject"]
    if not f.is_registered(subject):
        raise RuleViolation("not_registered", f"{subject} is not registered")
    require_not_after_statement(body["as_of"], st["time"], "as_of")
    _negative(body["entry"], subject, f)
    new = RepairState(subject, body["entry"], None, "ended", severity=body["severity"])
    return Outcome(new, concerns([subject, st["actor"]]))


def _decided(state: RepairState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    _require_operator(st, signers, f)
    if state.status != "applied":
        raise RuleViolation("illegal_transition", f"the repair is {state.status}, not applied")
    body = st["body"]
    if st["type"] == "repair.approved":
        new = replace(state, status="approved", severity=body["severity"], decision=body["reason"])
    else:
        new = replace(state, status="rejected", decision=body["reason"])
    return Outcome(new, concerns([state.subject, st["actor"]]))


def apply_repair(state: object, st: Mapping[str, Any], signers: frozenset[str], facts: Facts) -> Outcome:
    """Apply a repair statement.

    Raises:
        RuleViolation: ``aggregate_exists``, ``unknown_aggregate``, ``wrong_aggregate``, ``wrong_role``,
            ``missing_signature``, ``unexpected_signer``, ``not_registered``, ``bad_reference``,
            ``not_concerned``, ``not_negative``, ``unknown_commitment``, ``wrong_commitment``, ``bad_date``,
            ``illegal_transition``.
    """
    if state is not None and not isinstance(state, RepairState):
        raise RuleViolation("wrong_aggregate", f"{st['aggregate']} is not a repair")
    if st["type"] == "repair.applied":
        return _applied(state, st, signers, facts)
    if st["type"] == "repair.publicity_ended":
        return _publicity_ended(state, st, signers, facts)
    if state is None:
        raise RuleViolation("unknown_aggregate", f"no repair {st['aggregate']}")
    return _decided(state, st, signers, facts)
