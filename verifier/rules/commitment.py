"""Commitment aggregates (信用承诺): made, kept, broken, overdue (docs/format.md section 7, Commitments)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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

__all__ = ["CommitmentState", "apply_commitment"]


@dataclass(frozen=True, slots=True)
class CommitmentState:
    """A credit commitment: ``status`` ``open``, ``overdue``, ``kept`` or ``broken``.

    ``on`` is the date it was kept or broken; ``overdue_as_of`` the date the clock found it overdue.
    """

    maker: str
    authority: str
    kind: str
    content: str
    made_on: str
    deadline: str
    related: int | None
    status: str = "open"
    on: str | None = None
    evidence_sha256: str | None = None
    reason: str | None = None
    overdue_as_of: str | None = None

    @property
    def concerns(self) -> tuple[str, ...]:
        """The maker and the authority, sorted."""
        return concerns([self.maker, self.authority])


def _made(state: object, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    if state is not None:
        raise RuleViolation("aggregate_exists", f"commitment {st['aggregate']} exists already")
    require_random_aggregate(st["aggregate"])
    actor, body = st["actor"], st["body"]
    require_signers(signers, {actor}, {actor})
    if not f.is_registered(actor):
        raise RuleViolation("not_registered", f"maker {actor} is not registered")
    if not f.is_registered(body["authority"]):
        raise RuleViolation("not_registered", f"authority {body['authority']} is not registered")
    if body["authority"] == actor:
        raise RuleViolation("wrong_role", "a commitment is made to an authority other than its maker")
    require_not_after_statement(body["made_on"], st["time"], "made_on")
    if date_of(body["deadline"]) < date_of(body["made_on"]):
        raise RuleViolation("bad_date", "the deadline is earlier than made_on")
    related = body["related"]
    if related is not None and f.index is not None and related >= f.index:
        raise RuleViolation("bad_reference", f"related entry {related} is not an earlier entry")
    new = CommitmentState(
        maker=actor,
        authority=body["authority"],
        kind=body["kind"],
        content=body["content"],
        made_on=body["made_on"],
        deadline=body["deadline"],
        related=related,
    )
    return Outcome(new, concerns(new.concerns, [actor]))


def _decide(state: CommitmentState, st: Mapping[str, Any], signers: frozenset[str], what: str) -> None:
    actor = st["actor"]
    if actor != state.authority:
        raise RuleViolation("wrong_role", f"{what} is made by the commitment's authority {state.authority}")
    require_signers(signers, {actor}, {actor})
    if state.status not in ("open", "overdue"):
        raise RuleViolation("illegal_transition", f"the commitment is {state.status}")
    on = require_not_after_statement(st["body"]["on"], st["time"], "on")
    if on < date_of(state.made_on):
        raise RuleViolation("bad_date", "on is earlier than the date the commitment was made")


def _kept(state: CommitmentState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    _decide(state, st, signers, "commitment.kept")
    body = st["body"]
    new = evolve(state, status="kept", on=body["on"], evidence_sha256=body["evidence_sha256"])
    return Outcome(new, concerns(state.concerns, [st["actor"]]))


def _broken(state: CommitmentState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    _decide(state, st, signers, "commitment.broken")
    body = st["body"]
    new = evolve(state, status="broken", on=body["on"], reason=body["reason"])
    return Outcome(new, concerns(state.concerns, [st["actor"]]))


def _overdue(state: CommitmentState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    actor, as_of = st["actor"], st["body"]["as_of"]
    if actor != f.operator:
        raise RuleViolation("wrong_role", "commitment.overdue is made by the operator")
    require_signers(signers, {actor}, {actor})
    if state.status != "open":
        raise RuleViolation("illegal_transition", f"the commitment is {state.status}, not open")
    if date_of(as_of) <= date_of(state.deadline):
        raise RuleViolation("bad_date", f"as_of {as_of} is not after the deadline {state.deadline}")
    require_not_after_statement(as_of, st["time"], "as_of")
    return Outcome(evolve(state, status="overdue", overdue_as_of=as_of), concerns(state.concerns, [actor]))


_HANDLERS = {"commitment.kept": _kept, "commitment.broken": _broken, "commitment.overdue": _overdue}


def apply_commitment(state: object, st: Mapping[str, Any], signers: frozenset[str], facts: Facts) -> Outcome:
    """Apply a commitment statement.

    Raises:
        RuleViolation: ``aggregate_exists``, ``unknown_aggregate``, ``wrong_aggregate``, ``not_registered``,
            ``wrong_role``, ``missing_signature``, ``unexpected_signer``, ``illegal_transition``,
            ``bad_date``, ``bad_reference``.
    """
    if state is not None and not isinstance(state, CommitmentState):
        raise RuleViolation("wrong_aggregate", f"{st['aggregate']} is not a commitment")
    if st["type"] == "commitment.made":
        return _made(state, st, signers, facts)
    if state is None:
        raise RuleViolation("unknown_aggregate", f"no commitment {st['aggregate']}")
    return _HANDLERS[st["type"]](state, st, signers, facts)
