"""The legal sequences of statements (docs/format.md section 7) as pure state machines.

``apply(state, statement, signers, facts)`` takes the aggregate's state before the statement (None for a new
aggregate), the statement (already shape-checked by verifier.statement), the subjects whose signatures
verified and the cross-aggregate facts; it returns the new state and the subjects the entry concerns, or
raises RuleViolation. States are frozen dataclasses; the input state is never changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from verifier.errors import RuleViolation
from verifier.rules.commitment import CommitmentState, apply_commitment
from verifier.rules.common import Facts, Outcome
from verifier.rules.contract import ContractState, JudgmentRecord, MilestoneState, apply_contract
from verifier.rules.judgment import JudgmentState, apply_judgment
from verifier.rules.log import LogState, apply_log
from verifier.rules.objection import ObjectionState, apply_objection
from verifier.rules.repair import RepairState, apply_repair
from verifier.rules.subject import SubjectState, apply_subject
from verifier.statement import CONTRACT_STATEMENT_TYPES

__all__ = [
    "CREATION_TYPES",
    "AggregateState",
    "CommitmentState",
    "ContractState",
    "Facts",
    "JudgmentRecord",
    "JudgmentState",
    "LogState",
    "MilestoneState",
    "ObjectionState",
    "Outcome",
    "RepairState",
    "SubjectState",
    "apply",
]

AggregateState = (
    LogState | SubjectState | ContractState | CommitmentState | JudgmentState | ObjectionState | RepairState
)

_Handler = Callable[[object, Mapping[str, Any], frozenset[str], Facts], Outcome]

_DISPATCH: dict[str, _Handler] = {
    "log.genesis": apply_log,
    "subject.registered": apply_subject,
    "key.bound": apply_subject,
    "key.revoked": apply_subject,
    "commitment.made": apply_commitment,
    "commitment.kept": apply_commitment,
    "commitment.broken": apply_commitment,
    "commitment.overdue": apply_commitment,
    "judgment.recorded": apply_judgment,
    "judgment.linked": apply_judgment,
    "objection.filed": apply_objection,
    "objection.upheld": apply_objection,
    "objection.rejected": apply_objection,
    "repair.applied": apply_repair,
    "repair.approved": apply_repair,
    "repair.rejected": apply_repair,
    "repair.publicity_ended": apply_repair,
}
for _t in CONTRACT_STATEMENT_TYPES:
    _DISPATCH[_t] = apply_contract

CREATION_TYPES = frozenset(
    {
        "log.genesis",
        "subject.registered",
        "contract.proposed",
        "commitment.made",
        "judgment.recorded",
        "objection.filed",
        "repair.applied",
        "repair.publicity_ended",
    }
)
"""Types that create their aggregate (version 1). ``key.bound`` and ``key.revoked`` also create the subject
aggregate of a genesis subject."""


def apply(state: AggregateState | None, statement: Mapping[str, Any], signers: frozenset[str], facts: Facts) -> Outcome:
    """Apply one statement to its aggregate's state.

    ``statement`` must have passed verifier.statement.validate_statement; ``signers`` are the subjects whose
    signatures on it verified (the actor among them). The caller checks the version
    (``statement["version"]`` is the previous version + 1) and the origin.

    Raises:
        RuleViolation: the statement is not legal here; ``code`` says why (``unknown_type`` for a type without
            rules; the module docstrings list the others).
    """
    handler = _DISPATCH.get(statement["type"])
    if handler is None:
        raise RuleViolation("unknown_type", f"no rules for statement type {statement['type']!r}")
    if statement["actor"] not in signers:
        raise RuleViolation("missing_signature", f"the actor {statement['actor']} did not sign")
    return handler(state, statement, signers, facts)
