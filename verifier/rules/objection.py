"""Objection aggregates (信用异议): ``objection.filed``, ``objection.upheld``, ``objection.rejected``.

A subject objects to an earlier entry that concerns it; the operator upholds (with a correction) or rejects the
objection (docs/format-judgments.md). Nothing is deleted: the decision is itself an entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from verifier.errors import RuleViolation
from verifier.rules.common import Facts, Outcome, concerns, local_date, require_random_aggregate, require_signers

__all__ = ["ObjectionState", "apply_objection", "earlier_entry_concerning"]


@dataclass(frozen=True, slots=True)
class ObjectionState:
    """An objection: ``status`` ``filed``, ``upheld`` or ``rejected``; ``filed_on`` the filing date (UTC+8)."""

    objector: str
    entry: int
    reason: str
    filed_on: str
    status: str = "filed"
    decision: str | None = None
    correction: str | None = None

    @property
    def decided(self) -> bool:
        """True once upheld or rejected."""
        return self.status != "filed"


def earlier_entry_concerning(entry: int, subject: str, f: Facts) -> Mapping[str, Any] | None:
    """The statement of earlier entry ``entry``, which must concern ``subject``; None when the facts cannot tell.

    Raises:
        RuleViolation: ``bad_reference`` (no such earlier entry), ``not_concerned`` (it does not concern
            ``subject``).
    """
    if f.index is not None and entry >= f.index:
        raise RuleViolation("bad_reference", f"entry {entry} is not an earlier entry")
    if f.earlier_entry is None:
        return None
    found = f.earlier_entry(entry)
    if found is None:
        raise RuleViolation("bad_reference", f"entry {entry} is not an earlier entry")
    statement, subjects = found
    if subject not in subjects:
        raise RuleViolation("not_concerned", f"entry {entry} does not concern {subject}")
    return statement


def _filed(state: object, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    if state is not None:
        raise RuleViolation("aggregate_exists", f"objection {st['aggregate']} exists already")
    require_random_aggregate(st["aggregate"])
    actor, body = st["actor"], st["body"]
    require_signers(signers, {actor}, {actor})
    if not f.is_registered(actor):
        raise RuleViolation("not_registered", f"{actor} is not registered")
    earlier_entry_concerning(body["entry"], actor, f)
    new = ObjectionState(
        objector=actor, entry=body["entry"], reason=body["reason"], filed_on=local_date(st["time"]).isoformat()
    )
    return Outcome(new, concerns([actor]))


def _decided(state: ObjectionState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    actor, body = st["actor"], st["body"]
    if actor != f.operator:
        raise RuleViolation("wrong_role", f"{st['type']} is made by the operator")
    require_signers(signers, {actor}, {actor})
    if state.decided:
        raise RuleViolation("illegal_transition", f"the objection is {state.status} already")
    if st["type"] == "objection.upheld":
        new = replace(state, status="upheld", decision=body["reason"], correction=body["correction"])
    else:
        new = replace(state, status="rejected", decision=body["reason"])
    return Outcome(new, concerns([state.objector, actor]))


def apply_objection(state: object, st: Mapping[str, Any], signers: frozenset[str], facts: Facts) -> Outcome:
    """Apply an objection statement.

    Raises:
        RuleViolation: ``aggregate_exists``, ``unknown_aggregate``, ``wrong_aggregate``, ``wrong_role``,
            ``missing_signature``, ``unexpected_signer``, ``not_registered``, ``bad_reference``,
            ``not_concerned``, ``illegal_transition``.
    """
    if state is not None and not isinstance(state, ObjectionState):
        raise RuleViolation("wrong_aggregate", f"{st['aggregate']} is not an objection")
    if st["type"] == "objection.filed":
        return _filed(state, st, signers, facts)
    if state is None:
        raise RuleViolation("unknown_aggregate", f"no objection {st['aggregate']}")
    return _decided(state, st, signers, facts)
