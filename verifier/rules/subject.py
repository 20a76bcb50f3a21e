"""Subject aggregates: ``subject.registered``, ``key.bound``, ``key.revoked`` (docs/format.md section 7)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier.errors import RuleViolation
from verifier.identity import is_pseudonym, key_id, subject_aggregate
from verifier.rules.common import Facts, Outcome, concerns, evolve, require_signers

__all__ = ["SubjectState", "apply_subject"]


@dataclass(frozen=True, slots=True)
class SubjectState:
    """A subject known to the log.

    ``kind`` is None for the genesis subjects (operator, authority), whose aggregate starts with a key
    statement; ``keys`` are the key ids bound by ``key.bound`` statements in this aggregate.
    """

    subject: str
    kind: str | None
    name: str
    registered: bool = True
    keys: frozenset[str] = frozenset()


def _common(state: object, st: Mapping[str, Any], signers: frozenset[str], facts: Facts) -> str:
    subject: str = st["body"]["subject"]
    if state is not None and not isinstance(state, SubjectState):
        raise RuleViolation("wrong_aggregate", f"{st['aggregate']} is not a subject aggregate")
    if st["aggregate"] != subject_aggregate(subject):
        raise RuleViolation("wrong_aggregate", f"statements about {subject} act on {subject_aggregate(subject)}")
    if st["actor"] != facts.authority:
        raise RuleViolation("wrong_role", f"{st['type']} is made by the registration authority")
    require_signers(signers, {st["actor"]}, {st["actor"]})
    return subject


def _registered(state: object, st: Mapping[str, Any], signers: frozenset[str], facts: Facts) -> Outcome:
    subject = _common(state, st, signers, facts)
    if state is not None or facts.is_registered(subject):
        raise RuleViolation("already_registered", f"{subject} is registered already")
    body = st["body"]
    kind, name = body["kind"], body["name"]
    if (kind == "person") != is_pseudonym(subject):
        raise RuleViolation("wrong_kind", "a person is registered under a pseudonym, an organisation by credit code")
    if kind == "person" and name != "":
        raise RuleViolation("name_not_allowed", "a person's name never enters the log: name must be empty")
    if kind != "person" and not name.strip():
        raise RuleViolation("missing_name", "an organisation is registered with its name")
    return Outcome(SubjectState(subject, kind, name), concerns([subject, st["actor"]]))


def _genesis_subject(state: object, subject: str, facts: Facts) -> SubjectState:
    if isinstance(state, SubjectState):
        return state
    if not facts.is_registered(subject):
        raise RuleViolation("not_registered", f"{subject} is not registered")
    return SubjectState(subject, None, "")


def _bound(state: object, st: Mapping[str, Any], signers: frozenset[str], facts: Facts) -> Outcome:
    subject = _common(state, st, signers, facts)
    current = _genesis_subject(state, subject, facts)
    body = st["body"]
    kid = body["key_id"]
    if key_id(base64.b64decode(body["public_key"])) != kid:
        raise RuleViolation("key_mismatch", f"key_id {kid} is not the key id of the public key")
    if (
        kid in current.keys
        or facts.key_is_valid(subject, kid)
        or (facts.key_was_bound is not None and facts.key_was_bound(subject, kid))
    ):
        raise RuleViolation("key_already_bound", f"key {kid} was bound to {subject} before")
    new = evolve(current, keys=current.keys | {kid})
    return Outcome(new, concerns([subject, st["actor"]]))


def _revoked(state: object, st: Mapping[str, Any], signers: frozenset[str], facts: Facts) -> Outcome:
    subject = _common(state, st, signers, facts)
    current = _genesis_subject(state, subject, facts)
    kid = st["body"]["key_id"]
    if not facts.key_is_valid(subject, kid):
        raise RuleViolation("key_not_valid", f"key {kid} of {subject} is not valid: it cannot be revoked")
    return Outcome(current, concerns([subject, st["actor"]]))


_HANDLERS = {"subject.registered": _registered, "key.bound": _bound, "key.revoked": _revoked}


def apply_subject(state: object, st: Mapping[str, Any], signers: frozenset[str], facts: Facts) -> Outcome:
    """Apply a subject or key statement to the subject aggregate of ``body.subject``.

    Genesis subjects have no ``subject.registered``: their aggregate starts (version 1) with a key statement.

    Raises:
        RuleViolation: ``wrong_aggregate``, ``wrong_role``, ``missing_signature``, ``unexpected_signer``,
            ``already_registered``, ``wrong_kind``, ``name_not_allowed``, ``missing_name``,
            ``not_registered``, ``key_mismatch``, ``key_already_bound``, ``key_not_valid``.
    """
    return _HANDLERS[st["type"]](state, st, signers, facts)
