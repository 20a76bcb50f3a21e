"""Judgment aggregates (裁判文书, 仲裁裁决): ``judgment.recorded``, ``judgment.linked`` (docs/format-judgments.md).

The operator records a court judgment or an arbitration award; one recorded without its contract is linked
later. Applying it to the contract is the contract statement ``judgment.applied`` (verifier.rules.contract).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from verifier.errors import RuleViolation
from verifier.rules.common import (
    Facts,
    Outcome,
    concerns,
    require_not_after_statement,
    require_random_aggregate,
    require_signers,
)
from verifier.rules.contract import ContractState

__all__ = ["JudgmentState", "apply_judgment"]


@dataclass(frozen=True, slots=True)
class JudgmentState:
    """A recorded judgment or award: the body of ``judgment.recorded``, ``contract`` set once linked."""

    court: str
    case_number: str
    kind: str
    decided_on: str
    parties: tuple[str, ...]
    contract: str | None
    contract_number: str
    summary_sha256: str
    effect: str
    party: str | None
    milestone: str | None
    outcome: str | None

    @property
    def matched(self) -> bool:
        """True once the judgment names its contract."""
        return self.contract is not None


def _require_operator(st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> None:
    if st["actor"] != f.operator:
        raise RuleViolation("wrong_role", f"{st['type']} is made by the operator")
    require_signers(signers, {st["actor"]}, {st["actor"]})


def _check_contract(contract: str, parties: tuple[str, ...], milestone: str | None, f: Facts) -> None:
    """The contract exists, names every party of the judgment and the milestone (when facts can tell)."""
    if f.aggregate_state is None:
        return
    state = f.aggregate_state(contract)
    if not isinstance(state, ContractState):
        raise RuleViolation("unknown_contract", f"no contract {contract} in the log")
    outside = sorted(p for p in parties if p not in state.parties)
    if outside:
        raise RuleViolation("not_a_party", "not parties to the contract: " + ", ".join(outside))
    if milestone is not None and milestone not in state.milestones:
        raise RuleViolation("unknown_milestone", f"contract {contract} has no milestone {milestone!r}")


def _recorded(state: object, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    if state is not None:
        raise RuleViolation("aggregate_exists", f"judgment {st['aggregate']} exists already")
    require_random_aggregate(st["aggregate"])
    _require_operator(st, signers, f)
    body = st["body"]
    require_not_after_statement(body["decided_on"], st["time"], "decided_on")
    parties = tuple(body["parties"])
    if len(set(parties)) != len(parties):
        raise RuleViolation("duplicate_party", "a subject is listed twice among the parties")
    for s in parties:
        if not f.is_registered(s):
            raise RuleViolation("not_registered", f"party {s} is not registered")
    if body["party"] is not None and body["party"] not in parties:
        raise RuleViolation("not_a_party", f"{body['party']} is not among the judgment's parties")
    if body["contract"] is not None:
        _check_contract(body["contract"], parties, body["milestone"], f)
    new = JudgmentState(
        court=body["court"],
        case_number=body["case_number"],
        kind=body["kind"],
        decided_on=body["decided_on"],
        parties=tuple(sorted(parties)),
        contract=body["contract"],
        contract_number=body["contract_number"],
        summary_sha256=body["summary_sha256"],
        effect=body["effect"],
        party=body["party"],
        milestone=body["milestone"],
        outcome=body["outcome"],
    )
    return Outcome(new, concerns(parties, [st["actor"]]))


def _linked(state: JudgmentState, st: Mapping[str, Any], signers: frozenset[str], f: Facts) -> Outcome:
    _require_operator(st, signers, f)
    if state.matched:
        raise RuleViolation("illegal_transition", f"the judgment is linked to contract {state.contract} already")
    contract = st["body"]["contract"]
    _check_contract(contract, state.parties, state.milestone, f)
    return Outcome(replace(state, contract=contract), concerns(state.parties, [st["actor"]]))


def apply_judgment(state: object, st: Mapping[str, Any], signers: frozenset[str], facts: Facts) -> Outcome:
    """Apply a judgment statement (``judgment.recorded`` or ``judgment.linked``).

    Raises:
        RuleViolation: ``aggregate_exists``, ``unknown_aggregate``, ``wrong_aggregate``, ``wrong_role``,
            ``missing_signature``, ``unexpected_signer``, ``bad_date``, ``duplicate_party``, ``not_registered``,
            ``not_a_party``, ``unknown_contract``, ``unknown_milestone``, ``illegal_transition``.
    """
    if state is not None and not isinstance(state, JudgmentState):
        raise RuleViolation("wrong_aggregate", f"{st['aggregate']} is not a judgment")
    if st["type"] == "judgment.recorded":
        return _recorded(state, st, signers, facts)
    if state is None:
        raise RuleViolation("unknown_aggregate", f"no judgment {st['aggregate']}")
    return _linked(state, st, signers, facts)
