"""Persons' identities off the log: encrypted per person, erasable by deleting the person's key (crypto-shredding),
read only with a role and a reason, every read and erasure written to an append-only access log.

A person's name and citizen ID number are encrypted with AES-256-GCM under a random key of that person
(table ``case_person_keys``, kept apart from the ciphertexts in ``case_persons``); the associated data is the
pseudonym, so a ciphertext cannot be moved to another person. The pseudonym in the log is
``verifier.identity.pseudonym(platform pseudonym key, ID number)``. Erasing deletes the key: the ciphertext stays
unreadable, the log, bundles and reports still verify, the person stays pseudonymous. Public views mask
identifiers and hide contract amounts unless the terms disclose them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, Identity, Integer, LargeBinary, MetaData, Table, Text, delete, insert, select

from ledger.client import KeyFile
from ledger.errors import Forbidden, MalformedInput, NotFound
from ledger.judgments import casework_engine
from ledger.parties import Party, bind_key
from ledger.service import Ledger
from verifier.errors import IdentifierError
from verifier.identity import check_citizen_id, is_pseudonym, mask_subject_id, pseudonym, subject_aggregate

__all__ = [
    "READ_ROLES",
    "AccessRecord",
    "Person",
    "access_log",
    "erase_person",
    "mask_terms",
    "public_subject",
    "read_person",
    "register_person",
]

READ_ROLES = frozenset({"operator", "authority"})
"""Roles that may read a person's name and ID number (with a reason)."""

METADATA = MetaData()
PERSON_KEYS = Table(
    "case_person_keys",
    METADATA,
    Column("pseudonym", Text, primary_key=True),
    Column("key", LargeBinary, nullable=False),
)
PERSONS = Table(
    "case_persons",
    METADATA,
    Column("pseudonym", Text, primary_key=True),
    Column("name", LargeBinary, nullable=False),  # nonce || AES-256-GCM ciphertext
    Column("id_number", LargeBinary, nullable=False),
    Column("registered", Text, nullable=False),
    Column("erased", Text),
)
ACCESS_LOG = Table(
    "case_access_log",
    METADATA,
    Column("id", Integer, Identity(), primary_key=True),
    Column("time", Text, nullable=False),
    Column("who", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("action", Text, nullable=False),  # read, erase, register, refused
    Column("what", Text, nullable=False),
    Column("why", Text, nullable=False),
)


def _engine(ledger: Ledger) -> Any:
    engine = casework_engine(ledger)
    METADATA.create_all(engine)
    return engine


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _seal(key: bytes, plain: str, aad: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, plain.encode("utf-8"), aad.encode("ascii"))


def _open(key: bytes, sealed: bytes, aad: str) -> str:
    return AESGCM(key).decrypt(sealed[:12], sealed[12:], aad.encode("ascii")).decode("utf-8")


def _log(conn: Any, who: str, role: str, action: str, what: str, why: str) -> None:
    conn.execute(insert(ACCESS_LOG).values(time=_now(), who=who, role=role, action=action, what=what, why=why))


@dataclass(frozen=True)
class Person:
    """A person's identity as read from the store."""

    pseudonym: str
    name: str
    id_number: str


@dataclass(frozen=True)
class AccessRecord:
    """One line of the access log: who, in which role, did what to whose data, when and why."""

    id: int
    time: str
    who: str
    role: str
    action: str
    what: str
    why: str

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready object."""
        return {
            "id": self.id,
            "time": self.time,
            "who": self.who,
            "role": self.role,
            "action": self.action,
            "what": self.what,
            "why": self.why,
        }


def register_person(ledger: Ledger, name: str, id_number: str, *, key: KeyFile | None = None, who: str = "desk") -> str:
    """Store a person's name and ID number encrypted under a new key of theirs, register the pseudonym at the
    desk (``subject.registered``, kind ``person``, empty name) and bind ``key`` when given; return the pseudonym.

    Raises:
        MalformedInput: ``invalid_id_number`` or an empty name.
        RuleRejected: ``already_registered`` (nothing is stored then).
    """
    if not name.strip():
        raise MalformedInput("a person's name is required", code="missing_field")
    try:
        number = check_citizen_id(id_number.strip().upper())
    except IdentifierError as e:
        raise MalformedInput(str(e), code="invalid_id_number") from None
    subject = pseudonym(ledger.platform.pseudonym_key, number)
    body = {"subject": subject, "kind": "person", "name": ""}
    ledger.submit_as_platform("authority", "subject.registered", subject_aggregate(subject), body)
    store_identity(ledger, subject, name, number, who=who)
    if key is not None:
        bind_key(ledger, subject, key)
    return subject


def store_identity(ledger: Ledger, subject: str, name: str, id_number: str, *, who: str = "desk") -> None:
    """Keep a registered person's name and ID number, encrypted under a new key of the person's own
    (AES-256-GCM, the pseudonym as associated data); a previous record of that pseudonym is replaced."""
    person_key = AESGCM.generate_key(bit_length=256)
    with _engine(ledger).begin() as conn:
        conn.execute(delete(PERSONS).where(PERSONS.c.pseudonym == subject))
        conn.execute(delete(PERSON_KEYS).where(PERSON_KEYS.c.pseudonym == subject))
        conn.execute(insert(PERSON_KEYS).values(pseudonym=subject, key=person_key))
        conn.execute(
            insert(PERSONS).values(
                pseudonym=subject,
                name=_seal(person_key, name, subject),
                id_number=_seal(person_key, id_number, subject),
                registered=_now(),
                erased=None,
            )
        )
        _log(conn, who, "authority", "register", subject, "registration")


def register_person_party(ledger: Ledger, name: str, id_number: str) -> Party:
    """Register a person (as register_person) with a new key; return the person as a party."""
    number = check_citizen_id(id_number.strip().upper())
    key = KeyFile.generate(pseudonym(ledger.platform.pseudonym_key, number))
    register_person(ledger, name, number, key=key)
    return Party(ledger, key)


def _require(role: str | None, reason: str, who: str) -> None:
    if role not in READ_ROLES:
        raise Forbidden(f"reading a person's identity needs one of the roles {sorted(READ_ROLES)}", code="forbidden")
    if not reason.strip() or not who.strip():
        raise MalformedInput("reading a person's identity needs who reads it and why", code="missing_reason")


def read_person(ledger: Ledger, subject: str, *, who: str, role: str | None, reason: str) -> Person:
    """Decrypt a person's name and ID number; the read (or the refusal) is written to the access log.

    Raises:
        Forbidden: no reading role. MalformedInput: no reason or reader.
        NotFound: ``no_person`` (unknown pseudonym) or ``erased`` (the key was deleted).
    """
    try:
        _require(role, reason, who)
    except (Forbidden, MalformedInput):
        with _engine(ledger).begin() as conn:
            _log(conn, who or "?", role or "public", "refused", subject, reason)
        raise
    assert role is not None
    with _engine(ledger).begin() as conn:
        _log(conn, who, role, "read", subject, reason)
        row = conn.execute(select(PERSONS).where(PERSONS.c.pseudonym == subject)).first()
        key = conn.execute(select(PERSON_KEYS.c.key).where(PERSON_KEYS.c.pseudonym == subject)).first()
    if row is None:
        raise NotFound(f"no person {subject} in the identity store", code="no_person")
    if key is None:
        raise NotFound(f"the identity of {subject} was erased", code="erased", erased=row.erased)
    k = bytes(key[0])
    return Person(subject, _open(k, bytes(row.name), subject), _open(k, bytes(row.id_number), subject))


def erase_person(ledger: Ledger, subject: str, *, who: str, role: str | None, reason: str) -> None:
    """Crypto-shred a person: delete their key (the ciphertexts stay, unreadable); logged.

    Raises:
        Forbidden: no reading role. MalformedInput: no reason. NotFound: ``no_person`` or ``erased`` already.
    """
    _require(role, reason, who)
    assert role is not None
    with _engine(ledger).begin() as conn:
        row = conn.execute(select(PERSONS.c.erased).where(PERSONS.c.pseudonym == subject)).first()
        if row is None:
            raise NotFound(f"no person {subject} in the identity store", code="no_person")
        gone = conn.execute(delete(PERSON_KEYS).where(PERSON_KEYS.c.pseudonym == subject)).rowcount
        if not gone:
            raise NotFound(f"the identity of {subject} was erased already", code="erased")
        conn.execute(PERSONS.update().where(PERSONS.c.pseudonym == subject).values(erased=_now()))
        _log(conn, who, role, "erase", subject, reason)


def access_log(ledger: Ledger, *, after: int = 0, limit: int = 1000) -> list[AccessRecord]:
    """The access log in order, from the record after id ``after``."""
    q = select(ACCESS_LOG).where(ACCESS_LOG.c.id > after).order_by(ACCESS_LOG.c.id).limit(limit)
    with _engine(ledger).connect() as conn:
        return [AccessRecord(int(r.id), r.time, r.who, r.role, r.action, r.what, r.why) for r in conn.execute(q)]


def public_subject(subject: str) -> str:
    """A subject id as public views show it (docs/format.md section 2)."""
    return mask_subject_id(subject)


def mask_terms(terms: Mapping[str, Any]) -> dict[str, Any]:
    """Contract terms for public views: identifiers masked, amounts hidden unless ``disclose_amount``."""
    disclose = bool(terms.get("disclose_amount"))
    out = dict(terms)
    out["parties"] = [{**p, "subject": public_subject(p["subject"])} for p in terms.get("parties", [])]
    milestones = []
    for m in terms.get("milestones", []):
        m = {**m, "obligor": public_subject(m["obligor"]), "obligee": public_subject(m["obligee"])}
        if not disclose:
            m["amount"] = None
        milestones.append(m)
    out["milestones"] = milestones
    if not disclose:
        out["amount"] = None
    return out


def is_person(subject: str) -> bool:
    """True for a person's pseudonym."""
    return is_pseudonym(subject)
