"""What the API shows of subjects, contracts and commitments, to the public and to the platform's roles.

Public views mask subject ids on the subject page (``verifier.identity.mask_subject_id``), mask persons'
pseudonyms everywhere, and hide a contract's amounts unless its terms say ``disclose_amount``. Credit figures are
recomputed from the subject's own chain of entries with ``verifier.history`` and graded with
``verifier.grading``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from api.models import (
    CheckItem,
    CommitmentOut,
    ContractOut,
    JudgmentOut,
    KeyOut,
    MilestoneOut,
    PartyOut,
    SubjectOut,
)
from ledger.errors import MalformedInput, NotFound
from ledger.platform import AUTHORITY_NAME, OPERATOR_NAME
from ledger.service import Ledger
from verifier.grading import grade
from verifier.history import History, compute_history
from verifier.identity import is_pseudonym, mask_subject_id, subject_aggregate
from verifier.rules import CommitmentState, ContractState, SubjectState
from verifier.rules.common import CHINA_OFFSET
from verifier.statement import b64encode

MAX_CHAIN = 100_000


def today() -> str:
    """Today's date in China Standard Time (the date statements are judged by)."""
    return (datetime.now(UTC) + CHINA_OFFSET).date().isoformat()


def check_aggregate_id(aggregate: str) -> str:
    """The aggregate id if it is a lower-case hyphenated UUID.

    Raises:
        MalformedInput: it is not.
    """
    try:
        if str(uuid.UUID(aggregate)) == aggregate:
            return aggregate
    except ValueError:
        pass
    raise MalformedInput(f"{aggregate!r} is not a lower-case hyphenated UUID", code="malformed")


def _person_masked(subject: str, full: bool) -> str:
    return subject if full or not is_pseudonym(subject) else mask_subject_id(subject)


def subject_view(ledger: Ledger, subject: str, *, full: bool) -> SubjectOut:
    """The registration and keys of ``subject``; the id masked unless ``full``.

    Raises:
        NotFound: ``subject`` is not registered.
    """
    registration = ledger.store.subject(subject)
    if registration is None:
        raise NotFound(f"{mask_subject_id(subject)} is not registered", code="unknown_subject")
    kind, registered_at = registration
    if subject == ledger.operator:
        name = OPERATOR_NAME
    elif subject == ledger.authority:
        name = AUTHORITY_NAME
    else:
        _version, state = ledger.aggregate(subject_aggregate(subject))
        name = state.name if isinstance(state, SubjectState) else ""
    keys = [
        KeyOut(key_id=k, public_key=b64encode(pk) if full else None, bound_at=b, revoked_at=r)
        for s, k, pk, b, r in ledger.store.key_history()
        if s == subject
    ]
    return SubjectOut(
        view="full" if full else "public",
        subject=subject if full else mask_subject_id(subject),
        aggregate=subject_aggregate(subject) if full else None,
        kind=kind,
        name=name,
        registered_at=registered_at,
        keys=keys,
    )


def _contract_state(ledger: Ledger, aggregate: str) -> tuple[int, ContractState]:
    version, state = ledger.aggregate(check_aggregate_id(aggregate))
    if not isinstance(state, ContractState):
        raise NotFound(f"no contract {aggregate}", code="unknown_contract")
    return version, state


def contract_view(ledger: Ledger, aggregate: str, *, full: bool) -> ContractOut:
    """A contract's state; the public view hides amounts unless the terms disclose them.

    Raises:
        MalformedInput: ``aggregate`` is not a UUID.
        NotFound: no contract has that id.
    """
    version, state = _contract_state(ledger, aggregate)
    terms = state.terms
    show_amount = full or bool(terms["disclose_amount"])

    def who(s: str) -> str:
        return _person_masked(s, full)

    milestones = [
        MilestoneOut(
            id=m.id,
            obligor=who(m.obligor),
            obligee=who(m.obligee),
            due=m.due,
            kind=m.kind,
            amount_due=m.amount_due if show_amount else None,
            status=m.status,
            overdue=m.overdue,
            reported_by=None if m.reported_by is None else who(m.reported_by),
            outcome=m.outcome,
            on=m.on,
            amount=m.amount if show_amount else None,
            evidence_sha256=m.evidence_sha256,
            dispute_reason=m.dispute_reason,
            settled_by=m.settled_by,
        )
        for m in state.milestones.values()
    ]
    return ContractOut(
        view="full" if full else "public",
        aggregate=aggregate,
        version=version,
        status="completed" if state.completed else state.status,
        completed=state.completed,
        type=terms["type"],
        number=terms["number"],
        title=terms["title"],
        proposer=who(state.proposer),
        parties=[PartyOut(subject=who(p["subject"]), role=p["role"]) for p in terms["parties"]],
        consented=sorted(who(s) for s in state.consented),
        amount=terms["amount"] if show_amount else None,
        currency=terms["currency"],
        signed_on=terms["signed_on"],
        starts_on=terms["starts_on"],
        ends_on=terms["ends_on"],
        document_sha256=terms["document_sha256"],
        disclose_amount=terms["disclose_amount"],
        terms_digest=state.terms_digest,
        milestones=milestones,
        judgments=[
            JudgmentOut(
                judgment=j.judgment,
                effect=j.effect,
                party=None if j.party is None else who(j.party),
                milestone=j.milestone,
                outcome=j.outcome,
            )
            for j in state.judgments
        ],
        terms=dict(terms) if full else None,
    )


def commitment_view(ledger: Ledger, aggregate: str, *, full: bool) -> CommitmentOut:
    """A commitment's state (persons' pseudonyms masked in the public view).

    Raises:
        MalformedInput: ``aggregate`` is not a UUID.
        NotFound: no commitment has that id.
    """
    version, state = ledger.aggregate(check_aggregate_id(aggregate))
    if not isinstance(state, CommitmentState):
        raise NotFound(f"no commitment {aggregate}", code="unknown_commitment")
    return CommitmentOut(
        view="full" if full else "public",
        aggregate=aggregate,
        version=version,
        maker=_person_masked(state.maker, full),
        authority=_person_masked(state.authority, full),
        kind=state.kind,
        content=state.content,
        made_on=state.made_on,
        deadline=state.deadline,
        related=state.related,
        status=state.status,
        on=state.on,
        evidence_sha256=state.evidence_sha256,
        reason=state.reason,
        overdue_as_of=state.overdue_as_of,
    )


def subject_chain(ledger: Ledger, subject: str) -> list[dict[str, Any]]:
    """The entries concerning ``subject`` in log order, found by following ``links[subject]`` back from its head."""
    chain: list[dict[str, Any]] = []
    index = ledger.store.subject_head(subject)
    while index is not None and len(chain) < MAX_CHAIN:
        entry = orjson.loads(ledger.entry(index))
        chain.append(entry)
        link = entry["links"].get(subject)
        index = link if isinstance(link, int) else None
    chain.reverse()
    return chain


def subject_history(ledger: Ledger, subject: str, as_of: str) -> History:
    """``subject``'s credit figures as of ``as_of`` (docs/grading.md), from its chain.

    Raises:
        FormatError: ``as_of`` is not a date (or the chain cannot be interpreted).
    """
    return compute_history(subject, subject_chain(ledger, subject), as_of=as_of)


def check_subjects(ledger: Ledger, codes: Iterable[str], as_of: str) -> list[CheckItem]:
    """For each subject id: registered, open overdue milestones as obligor, broken commitments, grade."""
    out: list[CheckItem] = []
    cache: dict[str, CheckItem] = {}
    for code in codes:
        item = cache.get(code)
        if item is None:
            item = _check_one(ledger, code, as_of)
            cache[code] = item
        out.append(item)
    return out


def _check_one(ledger: Ledger, code: str, as_of: str) -> CheckItem:
    registration = ledger.store.subject(code)
    if registration is None:
        return CheckItem(
            subject=code,
            registered=False,
            kind=None,
            overdue_milestones=0,
            broken_commitments=0,
            score=None,
            grade=None,
        )
    history = subject_history(ledger, code, as_of)
    g = grade(history)
    return CheckItem(
        subject=code,
        registered=True,
        kind=registration[0],
        overdue_milestones=history.value("milestones.overdue_open") or 0,
        broken_commitments=history.value("commitments.broken") or 0,
        score=g.score,
        grade=g.grade,
    )
