"""The log aggregate: ``log.genesis`` (docs/format.md sections 6 and 7, Log)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier.errors import RuleViolation
from verifier.identity import is_credit_code, key_id, log_aggregate
from verifier.rules.common import Facts, Outcome, concerns, require_signers

__all__ = ["LogState", "apply_log"]


@dataclass(frozen=True, slots=True)
class LogState:
    """What genesis established: the log key, the operator and the registration authority with first keys."""

    origin: str
    log_key: bytes
    operator: str
    operator_name: str
    operator_key: bytes
    authority: str
    authority_name: str
    authority_key: bytes

    @property
    def log_key_id(self) -> str:
        """Key id of the log key (the key id genesis is signed with)."""
        return key_id(self.log_key)


def _genesis(state: object, st: Mapping[str, Any], signers: frozenset[str]) -> Outcome:
    if state is not None:
        raise RuleViolation("aggregate_exists", "the log has a genesis statement already")
    body = st["body"]
    origin = st["origin"]
    if st["aggregate"] != log_aggregate(origin):
        raise RuleViolation("wrong_aggregate", f"genesis acts on the log aggregate {log_aggregate(origin)}")
    operator = body["operator"]["subject"]
    authority = body["authority"]["subject"]
    if st["actor"] != operator:
        raise RuleViolation("wrong_role", "genesis is made by the operator named in its body")
    if operator == authority:
        raise RuleViolation("wrong_role", "operator and registration authority must be distinct subjects")
    for who in (operator, authority):
        if not is_credit_code(who):
            raise RuleViolation("wrong_kind", f"{who}: operator and authority are organisations (credit codes)")
    log_key = base64.b64decode(body["log_key"])
    if st["key_id"] != key_id(log_key):
        raise RuleViolation("key_mismatch", "genesis is signed with the log key: key_id must be its key id")
    require_signers(signers, {operator}, {operator})
    new = LogState(
        origin=origin,
        log_key=log_key,
        operator=operator,
        operator_name=body["operator"]["name"],
        operator_key=base64.b64decode(body["operator"]["public_key"]),
        authority=authority,
        authority_name=body["authority"]["name"],
        authority_key=base64.b64decode(body["authority"]["public_key"]),
    )
    return Outcome(new, concerns([operator, authority]))


def apply_log(state: object, st: Mapping[str, Any], signers: frozenset[str], facts: Facts) -> Outcome:
    """Apply a log statement (only ``log.genesis``; any other statement on the log aggregate is refused).

    Raises:
        RuleViolation: ``aggregate_exists``, ``wrong_aggregate``, ``wrong_role``, ``wrong_kind``,
            ``key_mismatch``, ``missing_signature``, ``unexpected_signer``, ``illegal_transition``.
    """
    if st["type"] == "log.genesis":
        return _genesis(state, st, signers)
    raise RuleViolation("illegal_transition", f"{st['type']} does not act on the log aggregate")
