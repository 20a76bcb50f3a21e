"""What the API shows of subjects, contracts and commitments, to the public and to the platform's roles.

Public views mask subject ids on the subject page (``verifier.identity.mask_subject_id``), mask persons'
pseudonyms everywhere, and hide a contract's amounts unless its terms say ``disclose_amount``. Credit figures and
grades come from the projections (ledger/projections: ``verifier.history`` and ``verifier.grading`` applied to each
subject's entries, stored by subject); the API attaches one ``Projections`` to its ledger.
"""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import bindparam, column, select, table

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
from ledger.projections import ProjectionError, Projections
from ledger.projections.tables import SUBJECT_HISTORY
from ledger.service import Ledger
from verifier.history import History
from verifier.identity import is_pseudonym, mask_subject_id, subject_aggregate
from verifier.rules import CommitmentState, ContractState, SubjectState
from verifier.rules.common import CHINA_OFFSET
from verifier.statement import b64encode

log = logging.getLogger("lvyue.api")


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


def open_projections(ledger: Ledger) -> Projections:
    """The projections of ``ledger``'s database, dated by ``today`` (China Standard Time, as the API).

    Raises:
        MalformedInput: the operator's grading rules file is invalid.
    """
    return Projections.open(ledger.settings, ledger=ledger, clock=today)


@dataclass
class _Attached:
    projections: Projections
    catch_up: bool


_ATTACHED: weakref.WeakKeyDictionary[Ledger, _Attached] = weakref.WeakKeyDictionary()
_ATTACH_LOCK = threading.Lock()


def attach_projections(ledger: Ledger, projections: Projections, *, catch_up: bool) -> None:
    """Make ``projections`` the read models the API answers from for ``ledger``.

    With ``catch_up`` every read first applies the entries the projections have not seen yet (for an application
    with no poller in its process, e.g. under test); without it reads take them as they are, a poller keeping them
    current.
    """
    with _ATTACH_LOCK:
        _ATTACHED[ledger] = _Attached(projections, catch_up)


def current_projections(ledger: Ledger) -> Projections:
    """The projections attached to ``ledger`` (opened and attached with catch-up if none are), brought up to date
    first when they catch up on reads.

    Raises:
        MalformedInput: the projections had to be opened and the grading rules file is invalid.
    """
    with _ATTACH_LOCK:
        attached = _ATTACHED.get(ledger)
        if attached is None:
            attached = _ATTACHED[ledger] = _Attached(open_projections(ledger), True)
    if attached.catch_up and attached.projections.position() < ledger.size():
        try:
            attached.projections.run_once(ledger)
        except ProjectionError:
            # another runner is applying the same entries, or one cannot be applied (the poller logs it):
            # answer from the read models as they are
            log.warning("projections could not catch up; reading them as they are", exc_info=True)
    return attached.projections


def check_date(as_of: str) -> str:
    """``as_of`` if it is a date ``YYYY-MM-DD``.

    Raises:
        MalformedInput: it is not (``code`` ``bad_date``).
    """
    try:
        if len(as_of) == 10 and date.fromisoformat(as_of).isoformat() == as_of:
            return as_of
    except ValueError:
        pass
    raise MalformedInput(f"as_of is not a date YYYY-MM-DD: {as_of!r}", code="bad_date")


def subject_history(ledger: Ledger, subject: str, as_of: str) -> History:
    """``subject``'s credit figures as of ``as_of`` (docs/grading.md), from the projections: today's is the stored
    row (recomputed when stale), another date is recomputed from the subject's entries.

    Raises:
        MalformedInput: ``as_of`` is not a date.
    """
    return current_projections(ledger).history(subject, check_date(as_of))


_SUBJECTS = table("lvyue_subjects", column("subject"), column("kind"))
_CHUNK = 500
_CHECK = (  # built once: the statement's construction cost more than the query
    select(
        _SUBJECTS.c.subject,
        _SUBJECTS.c.kind,
        SUBJECT_HISTORY.c.as_of,
        SUBJECT_HISTORY.c.grade,
        SUBJECT_HISTORY.c.score,
        SUBJECT_HISTORY.c.overdue_open,
        SUBJECT_HISTORY.c.commitments_broken,
        SUBJECT_HISTORY.c.arrears_amount,
    )
    .select_from(_SUBJECTS.outerjoin(SUBJECT_HISTORY, SUBJECT_HISTORY.c.subject == _SUBJECTS.c.subject))
    .where(_SUBJECTS.c.subject.in_(bindparam("codes", expanding=True)))
)


def check_subjects(ledger: Ledger, codes: Iterable[str], as_of: str) -> list[CheckItem]:
    """For each subject id: registered, open overdue milestones as obligor, broken commitments, arrears, grade.

    Read from the projections in one query per 500 distinct codes (the registry joined with the stored
    histories); only a subject whose stored row is not of ``as_of`` (stale, or of another day) is recomputed.

    Raises:
        MalformedInput: ``as_of`` is not a date.
    """
    check_date(as_of)
    codes = list(codes)
    projections = current_projections(ledger)
    distinct = list(dict.fromkeys(codes))
    found: dict[str, CheckItem] = {}
    with projections.engine.connect() as conn:
        for start in range(0, len(distinct), _CHUNK):
            chunk = distinct[start : start + _CHUNK]
            rows = conn.execute(_CHECK, {"codes": chunk}).all()
            for r in rows:
                if r.as_of == as_of:
                    item = {
                        "grade": r.grade,
                        "score": int(r.score),
                        "overdue_milestones": int(r.overdue_open),
                        "broken_commitments": int(r.commitments_broken),
                        "arrears_amount": int(r.arrears_amount),
                    }
                else:
                    history, graded = projections.assess(str(r.subject), as_of)
                    item = {
                        "grade": graded.grade,
                        "score": graded.score,
                        "overdue_milestones": history.value("milestones.overdue_open") or 0,
                        "broken_commitments": history.value("commitments.broken") or 0,
                        "arrears_amount": history.value("arrears.amount") or 0,
                    }
                # CheckItem keeps the members it declares (arrears_amount once it declares it)
                found[str(r.subject)] = CheckItem.model_validate(
                    {"subject": str(r.subject), "registered": True, "kind": str(r.kind), **item}
                )
    unknown = CheckItem(
        subject="",
        registered=False,
        kind=None,
        overdue_milestones=0,
        broken_commitments=0,
        score=None,
        grade=None,
    )
    return [found.get(code) or unknown.model_copy(update={"subject": code}) for code in codes]
