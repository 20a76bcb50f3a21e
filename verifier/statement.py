"""Statements (docs/format.md sections 3 and 7): shape, body validation, signed message, signing, verifying.

A statement is the JSON object ``{type, origin, actor, key_id, aggregate, version, time, body}``; it travels
as a signed statement ``{"statement": {...}, "signatures": [{signer, key_id, sig}, ...]}``. Every signature
is an Ed25519 signature over ``STATEMENT_DOMAIN || canonical(statement)``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
import nacl.signing

from verifier.canonical import MAX_SAFE_INTEGER, canonicalize
from verifier.errors import CanonicalizationError, FormatError, IdentifierError, SignatureError
from verifier.identity import check_subject_id, is_key_id, key_id

__all__ = [
    "COMMITMENT_KINDS",
    "CONTRACT_TYPES",
    "JUDGMENT_EFFECTS",
    "JUDGMENT_KINDS",
    "JUDGMENT_RECORD_EFFECTS",
    "MILESTONE_KINDS",
    "OUTCOMES",
    "SEVERITIES",
    "STATEMENT_DOMAIN",
    "STATEMENT_MEMBERS",
    "STATEMENT_TYPES",
    "SUBJECT_KINDS",
    "Signature",
    "SignedStatement",
    "b64decode",
    "b64encode",
    "check_date",
    "check_time",
    "make_statement",
    "parse_signed_statement",
    "public_key_of",
    "sign_statement",
    "signed_message",
    "terms_digest",
    "validate_body",
    "validate_statement",
    "validate_terms",
    "verify_signature",
    "verify_signatures",
]

STATEMENT_DOMAIN = b"lvyue/statement/v1\n"
STATEMENT_MEMBERS = frozenset({"type", "origin", "actor", "key_id", "aggregate", "version", "time", "body"})

SUBJECT_KINDS = ("enterprise", "government", "institution", "social_organisation", "person")
CONTRACT_TYPES = ("government_procurement", "investment_attraction", "ppp", "concession", "other")
MILESTONE_KINDS = ("payment", "delivery", "acceptance", "other")
OUTCOMES = ("fulfilled", "partial", "failed")
COMMITMENT_KINDS = (
    "approval_substitute",
    "deficiency_acceptance",
    "certification_substitute",
    "industry_self_discipline",
    "credit_repair",
    "voluntary_disclosure",
    "other",
)
CONTRACT_STATEMENT_TYPES = frozenset(
    {
        "contract.proposed",
        "contract.consented",
        "contract.withdrawn",
        "contract.amended",
        "performance.reported",
        "performance.confirmed",
        "performance.disputed",
        "dispute.resolved",
        "milestone.overdue",
        "contract.terminated",
        "judgment.applied",
    }
)
"""The statement types that act on a contract aggregate (section 7, "Contracts")."""
JUDGMENT_EFFECTS = ("breach", "terminate", "end_dispute")
JUDGMENT_RECORD_MEMBERS = (
    "court",
    "case_number",
    "kind",
    "decided_on",
    "parties",
    "contract",
    "contract_number",
    "summary_sha256",
    "effect",
    "party",
    "milestone",
    "outcome",
)
"""The members of a ``judgment.recorded`` body (section 7a), in the order an import file lists them."""
JUDGMENT_RECORD_EFFECTS = (*JUDGMENT_EFFECTS, "none")  # judgment.recorded (section 7a)
JUDGMENT_KINDS = ("judgment", "award")
SEVERITIES = ("minor", "general", "serious")

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{6}))?Z")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_TEXT = 10_000


# ---------------------------------------------------------------- small value checks


def b64encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 section 4)."""
    return base64.b64encode(data).decode("ascii")


def b64decode(s: object, *, what: str, size: int | None = None) -> bytes:
    """Decode strict, canonical base64 (padding required, no whitespace, no stray bits).

    Raises:
        FormatError: ``s`` is not a string, not canonical base64, or does not decode to ``size`` bytes.
    """
    if not isinstance(s, str):
        raise FormatError(f"{what} must be a base64 string, not {type(s).__name__}")
    try:
        data = base64.b64decode(s.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise FormatError(f"{what} is not valid base64") from None
    if base64.b64encode(data).decode("ascii") != s:
        raise FormatError(f"{what} is not canonical base64")
    if size is not None and len(data) != size:
        raise FormatError(f"{what} must decode to {size} bytes, got {len(data)}")
    return data


def check_date(s: object, *, what: str = "date") -> datetime.date:
    """Parse a date ``YYYY-MM-DD``.

    Raises:
        FormatError: not a string of that form, or not a calendar date.
    """
    if not isinstance(s, str) or _DATE.fullmatch(s) is None:
        raise FormatError(f"{what} must be a date YYYY-MM-DD, got {s!r}")
    try:
        return datetime.date.fromisoformat(s)
    except ValueError:
        raise FormatError(f"{what} is not a calendar date: {s!r}") from None


def check_time(s: object, *, what: str = "time") -> datetime.datetime:
    """Parse a time ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (UTC; the fraction, when present, has 6 digits).

    Raises:
        FormatError: not a string of that form, or not a valid instant.
    """
    m = _TIME.fullmatch(s) if isinstance(s, str) else None
    if m is None:
        raise FormatError(f"{what} must be YYYY-MM-DDTHH:MM:SS[.ffffff]Z, got {s!r}")
    y, mo, d, h, mi, sec, frac = m.groups()
    try:
        return datetime.datetime(
            int(y), int(mo), int(d), int(h), int(mi), int(sec), int(frac or 0), tzinfo=datetime.UTC
        )
    except ValueError:
        raise FormatError(f"{what} is not a valid time: {s!r}") from None


def _obj(value: object, members: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FormatError(f"{what} must be an object, not {type(value).__name__}")
    keys = set(value)
    if keys != members:
        missing = sorted(members - keys)
        extra = sorted(keys - members)
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if extra:
            parts.append("unexpected " + ", ".join(str(k) for k in extra))
        raise FormatError(f"{what}: " + "; ".join(parts))
    return value


def _str(value: object, what: str, *, empty: bool = True, limit: int = _MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise FormatError(f"{what} must be a string, not {type(value).__name__}")
    if not empty and not value.strip():
        raise FormatError(f"{what} must not be empty")
    if len(value) > limit:
        raise FormatError(f"{what} is longer than {limit} characters")
    return value


def _int(value: object, what: str, *, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise FormatError(f"{what} must be an integer, not {type(value).__name__}")
    if value < minimum or value > MAX_SAFE_INTEGER:
        raise FormatError(f"{what} must be an integer in [{minimum}, 2^53-1], got {value}")
    return value


def _bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise FormatError(f"{what} must be true or false, not {type(value).__name__}")
    return value


def _enum(value: object, allowed: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise FormatError(f"{what} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _subject(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise FormatError(f"{what} must be a subject id string, not {type(value).__name__}")
    try:
        norm = check_subject_id(value)
    except IdentifierError as e:
        raise FormatError(f"{what} is not a subject id: {e}") from None
    if norm != value:
        raise FormatError(f"{what} must be written in normal form {norm!r}")
    return value


def _key_id(value: object, what: str) -> str:
    if not is_key_id(value):
        raise FormatError(f"{what} must be ed25519: followed by 16 lower-case hex digits, got {value!r}")
    assert isinstance(value, str)
    return value


def _uuid(value: object, what: str) -> str:
    if not isinstance(value, str) or _UUID.fullmatch(value) is None:
        raise FormatError(f"{what} must be a lower-case hyphenated UUID, got {value!r}")
    return value


def _hex64(value: object, what: str) -> str:
    if not isinstance(value, str) or _HEX64.fullmatch(value) is None:
        raise FormatError(f"{what} must be 64 lower-case hex digits (SHA-256), got {value!r}")
    return value


def _milestone_id(value: object, what: str) -> str:
    return _str(value, what, empty=False, limit=64)


# ---------------------------------------------------------------- bodies

_PARTY = frozenset({"subject", "name", "public_key"})
_TERMS = frozenset(
    {
        "type",
        "number",
        "title",
        "parties",
        "amount",
        "currency",
        "signed_on",
        "starts_on",
        "ends_on",
        "document_sha256",
        "disclose_amount",
        "milestones",
    }
)
_TERMS_PARTY = frozenset({"subject", "role"})
_MILESTONE = frozenset({"id", "obligor", "obligee", "due", "kind", "amount", "description"})


def _genesis(body: dict[str, Any]) -> None:
    b64decode(body["log_key"], what="body.log_key", size=32)
    for role in ("operator", "authority"):
        party = _obj(body[role], _PARTY, f"body.{role}")
        _subject(party["subject"], f"body.{role}.subject")
        _str(party["name"], f"body.{role}.name", empty=False, limit=200)
        b64decode(party["public_key"], what=f"body.{role}.public_key", size=32)


def _subject_registered(body: dict[str, Any]) -> None:
    _subject(body["subject"], "body.subject")
    _enum(body["kind"], SUBJECT_KINDS, "body.kind")
    _str(body["name"], "body.name", limit=200)


def _key_bound(body: dict[str, Any]) -> None:
    _subject(body["subject"], "body.subject")
    _key_id(body["key_id"], "body.key_id")
    b64decode(body["public_key"], what="body.public_key", size=32)
    _enum(body["algorithm"], ("ed25519",), "body.algorithm")


def _key_revoked(body: dict[str, Any]) -> None:
    _subject(body["subject"], "body.subject")
    _key_id(body["key_id"], "body.key_id")
    _str(body["reason"], "body.reason")


def validate_terms(terms: object, what: str = "body.terms") -> dict[str, Any]:
    """Validate the shape of a contract's terms object (docs/format.md section 7, Contracts).

    Only the form of each member is checked here; the relations between members (distinct parties, milestone
    obligors among the parties, date order, amounts) are rules (verifier.rules.contract).

    Raises:
        FormatError: a member is missing, unexpected, of the wrong type or outside its enumeration.
    """
    t = _obj(terms, _TERMS, what)
    _enum(t["type"], CONTRACT_TYPES, f"{what}.type")
    _str(t["number"], f"{what}.number", empty=False, limit=200)
    _str(t["title"], f"{what}.title", empty=False, limit=500)
    parties = t["parties"]
    if not isinstance(parties, list):
        raise FormatError(f"{what}.parties must be an array")
    for i, p in enumerate(parties):
        p = _obj(p, _TERMS_PARTY, f"{what}.parties[{i}]")
        _subject(p["subject"], f"{what}.parties[{i}].subject")
        _str(p["role"], f"{what}.parties[{i}].role", empty=False, limit=100)
    _int(t["amount"], f"{what}.amount")
    _enum(t["currency"], ("CNY",), f"{what}.currency")
    for member in ("signed_on", "starts_on", "ends_on"):
        check_date(t[member], what=f"{what}.{member}")
    _hex64(t["document_sha256"], f"{what}.document_sha256")
    _bool(t["disclose_amount"], f"{what}.disclose_amount")
    milestones = t["milestones"]
    if not isinstance(milestones, list):
        raise FormatError(f"{what}.milestones must be an array")
    for i, m in enumerate(milestones):
        m = _obj(m, _MILESTONE, f"{what}.milestones[{i}]")
        _milestone_id(m["id"], f"{what}.milestones[{i}].id")
        _subject(m["obligor"], f"{what}.milestones[{i}].obligor")
        _subject(m["obligee"], f"{what}.milestones[{i}].obligee")
        check_date(m["due"], what=f"{what}.milestones[{i}].due")
        _enum(m["kind"], MILESTONE_KINDS, f"{what}.milestones[{i}].kind")
        _int(m["amount"], f"{what}.milestones[{i}].amount")
        _str(m["description"], f"{what}.milestones[{i}].description")
    return t


def terms_digest(terms: Mapping[str, Any]) -> str:
    """hex SHA-256 of canonical(terms).

    Raises:
        CanonicalizationError: the terms hold a value outside the canonical JSON data model.
    """

    return hashlib.sha256(canonicalize(terms)).hexdigest()


def _with_terms(body: dict[str, Any]) -> None:
    validate_terms(body["terms"])
    _hex64(body["terms_digest"], "body.terms_digest")


def _consented(body: dict[str, Any]) -> None:
    _hex64(body["terms_digest"], "body.terms_digest")


def _reason(body: dict[str, Any]) -> None:
    _str(body["reason"], "body.reason")


def _reported(body: dict[str, Any]) -> None:
    _milestone_id(body["milestone"], "body.milestone")
    _enum(body["outcome"], OUTCOMES, "body.outcome")
    check_date(body["on"], what="body.on")
    _int(body["amount"], "body.amount")
    _hex64(body["evidence_sha256"], "body.evidence_sha256")


def _milestone_only(body: dict[str, Any]) -> None:
    _milestone_id(body["milestone"], "body.milestone")


def _disputed(body: dict[str, Any]) -> None:
    _milestone_id(body["milestone"], "body.milestone")
    _str(body["reason"], "body.reason", empty=False)


def _resolved(body: dict[str, Any]) -> None:
    _milestone_id(body["milestone"], "body.milestone")
    _enum(body["outcome"], OUTCOMES, "body.outcome")
    check_date(body["on"], what="body.on")
    _int(body["amount"], "body.amount")


def _overdue(body: dict[str, Any]) -> None:
    _milestone_id(body["milestone"], "body.milestone")
    check_date(body["as_of"], what="body.as_of")


def _judgment(body: dict[str, Any]) -> None:
    _uuid(body["judgment"], "body.judgment")
    effect = _enum(body["effect"], JUDGMENT_EFFECTS, "body.effect")
    party, milestone, outcome = body["party"], body["milestone"], body["outcome"]
    if party is not None:
        _subject(party, "body.party")
    if milestone is not None:
        _milestone_id(milestone, "body.milestone")
    if outcome is not None:
        _enum(outcome, OUTCOMES, "body.outcome")
    if effect == "breach":
        if party is None:
            raise FormatError("body.party is required when effect is breach")
        if outcome not in (None, "failed"):
            raise FormatError("body.outcome must be null or failed when effect is breach")
        if outcome is not None and milestone is None:
            raise FormatError("body.outcome needs body.milestone when effect is breach")
    elif effect == "terminate":
        if party is not None or milestone is not None or outcome is not None:
            raise FormatError("body.party, body.milestone and body.outcome must be null when effect is terminate")
    else:
        if party is not None:
            raise FormatError("body.party must be null when effect is end_dispute")
        if milestone is None or outcome is None:
            raise FormatError("body.milestone and body.outcome are required when effect is end_dispute")


def _judgment_recorded(body: dict[str, Any]) -> None:
    _str(body["court"], "body.court", empty=False, limit=200)
    _str(body["case_number"], "body.case_number", empty=False, limit=100)
    _enum(body["kind"], JUDGMENT_KINDS, "body.kind")
    check_date(body["decided_on"], what="body.decided_on")
    parties = body["parties"]
    if not isinstance(parties, list) or not parties:
        raise FormatError("body.parties must be a non-empty array of subject ids")
    for i, p in enumerate(parties):
        _subject(p, f"body.parties[{i}]")
    if body["contract"] is not None:
        _uuid(body["contract"], "body.contract")
    _str(body["contract_number"], "body.contract_number", limit=200)
    _hex64(body["summary_sha256"], "body.summary_sha256")
    effect = _enum(body["effect"], JUDGMENT_RECORD_EFFECTS, "body.effect")
    party, milestone, outcome = body["party"], body["milestone"], body["outcome"]
    if party is not None:
        _subject(party, "body.party")
    if milestone is not None:
        _milestone_id(milestone, "body.milestone")
    if outcome is not None:
        _enum(outcome, OUTCOMES, "body.outcome")
    if effect in ("none", "terminate"):
        if party is not None or milestone is not None or outcome is not None:
            raise FormatError(f"body.party, body.milestone and body.outcome must be null when effect is {effect}")
    elif effect == "breach":
        if party is None:
            raise FormatError("body.party is required when effect is breach")
        if outcome not in (None, "failed"):
            raise FormatError("body.outcome must be null or failed when effect is breach")
        if outcome is not None and milestone is None:
            raise FormatError("body.outcome needs body.milestone when effect is breach")
    else:
        if party is not None:
            raise FormatError("body.party must be null when effect is end_dispute")
        if milestone is None or outcome is None:
            raise FormatError("body.milestone and body.outcome are required when effect is end_dispute")


def _judgment_linked(body: dict[str, Any]) -> None:
    _uuid(body["contract"], "body.contract")


def _objection_filed(body: dict[str, Any]) -> None:
    _int(body["entry"], "body.entry")
    _str(body["reason"], "body.reason", empty=False)


def _objection_upheld(body: dict[str, Any]) -> None:
    _str(body["reason"], "body.reason", empty=False)
    _str(body["correction"], "body.correction", empty=False)


def _reason_required(body: dict[str, Any]) -> None:
    _str(body["reason"], "body.reason", empty=False)


def _repair_applied(body: dict[str, Any]) -> None:
    _int(body["entry"], "body.entry")
    _uuid(body["commitment"], "body.commitment")
    _str(body["reason"], "body.reason", empty=False)


def _repair_approved(body: dict[str, Any]) -> None:
    _enum(body["severity"], SEVERITIES, "body.severity")
    _str(body["reason"], "body.reason", empty=False)


def _publicity_ended(body: dict[str, Any]) -> None:
    _subject(body["subject"], "body.subject")
    _int(body["entry"], "body.entry")
    _enum(body["severity"], SEVERITIES, "body.severity")
    check_date(body["as_of"], what="body.as_of")


def _commitment_made(body: dict[str, Any]) -> None:
    _enum(body["kind"], COMMITMENT_KINDS, "body.kind")
    _subject(body["authority"], "body.authority")
    _str(body["content"], "body.content", empty=False)
    check_date(body["made_on"], what="body.made_on")
    check_date(body["deadline"], what="body.deadline")
    if body["related"] is not None:
        _int(body["related"], "body.related")


def _commitment_kept(body: dict[str, Any]) -> None:
    check_date(body["on"], what="body.on")
    _hex64(body["evidence_sha256"], "body.evidence_sha256")


def _commitment_broken(body: dict[str, Any]) -> None:
    check_date(body["on"], what="body.on")
    _str(body["reason"], "body.reason", empty=False)


def _commitment_overdue(body: dict[str, Any]) -> None:
    check_date(body["as_of"], what="body.as_of")


_BODIES: dict[str, tuple[frozenset[str], Callable[[dict[str, Any]], None]]] = {
    "log.genesis": (frozenset({"log_key", "operator", "authority"}), _genesis),
    "subject.registered": (frozenset({"subject", "kind", "name"}), _subject_registered),
    "key.bound": (frozenset({"subject", "key_id", "public_key", "algorithm"}), _key_bound),
    "key.revoked": (frozenset({"subject", "key_id", "reason"}), _key_revoked),
    "contract.proposed": (frozenset({"terms", "terms_digest"}), _with_terms),
    "contract.consented": (frozenset({"terms_digest"}), _consented),
    "contract.withdrawn": (frozenset({"reason"}), _reason),
    "contract.amended": (frozenset({"terms", "terms_digest"}), _with_terms),
    "performance.reported": (
        frozenset({"milestone", "outcome", "on", "amount", "evidence_sha256"}),
        _reported,
    ),
    "performance.confirmed": (frozenset({"milestone"}), _milestone_only),
    "performance.disputed": (frozenset({"milestone", "reason"}), _disputed),
    "dispute.resolved": (frozenset({"milestone", "outcome", "on", "amount"}), _resolved),
    "milestone.overdue": (frozenset({"milestone", "as_of"}), _overdue),
    "contract.terminated": (frozenset({"reason"}), _reason),
    "judgment.applied": (frozenset({"judgment", "effect", "party", "milestone", "outcome"}), _judgment),
    "commitment.made": (
        frozenset({"kind", "authority", "content", "made_on", "deadline", "related"}),
        _commitment_made,
    ),
    "commitment.kept": (frozenset({"on", "evidence_sha256"}), _commitment_kept),
    "commitment.broken": (frozenset({"on", "reason"}), _commitment_broken),
    "commitment.overdue": (frozenset({"as_of"}), _commitment_overdue),
    # section 7a (docs/format-judgments.md)
    "judgment.recorded": (
        frozenset(JUDGMENT_RECORD_MEMBERS),
        _judgment_recorded,
    ),
    "judgment.linked": (frozenset({"contract"}), _judgment_linked),
    "objection.filed": (frozenset({"entry", "reason"}), _objection_filed),
    "objection.upheld": (frozenset({"reason", "correction"}), _objection_upheld),
    "objection.rejected": (frozenset({"reason"}), _reason_required),
    "repair.applied": (frozenset({"entry", "commitment", "reason"}), _repair_applied),
    "repair.approved": (frozenset({"severity", "reason"}), _repair_approved),
    "repair.rejected": (frozenset({"reason"}), _reason_required),
    "repair.publicity_ended": (frozenset({"subject", "entry", "severity", "as_of"}), _publicity_ended),
}

STATEMENT_TYPES = frozenset(_BODIES)


def validate_body(type: str, body: object) -> dict[str, Any]:
    """Check that ``body`` has exactly the members the statement type ``type`` prescribes, each of its form.

    Forms: subject ids in normal form, dates ``YYYY-MM-DD``, amounts non-negative integers, SHA-256 values 64
    lower-case hex digits, keys canonical base64 of 32 bytes, enumerations as listed in docs/format.md.

    Raises:
        FormatError: unknown statement type, or a member missing, unexpected or malformed (named).
    """
    spec = _BODIES.get(type) if isinstance(type, str) else None
    if spec is None:
        raise FormatError(f"unknown statement type {type!r}")
    members, check = spec
    obj = _obj(body, members, "body")
    check(obj)
    return obj


# ---------------------------------------------------------------- statements


def _check_origin(value: object) -> str:
    if isinstance(value, str) and value in _GOOD_ORIGINS:
        return value
    if not isinstance(value, str) or not value or len(value) > 255:
        raise FormatError("statement.origin must be a non-empty string of at most 255 characters")
    if any(c.isspace() or c == "+" or not c.isprintable() for c in value) or "://" in value:
        raise FormatError(f"statement.origin must be a schema-less URL without spaces or '+': {value!r}")
    if len(_GOOD_ORIGINS) < 64:
        _GOOD_ORIGINS.add(value)
    return value


_GOOD_ORIGINS: set[str] = set()


def validate_statement(statement: object) -> dict[str, Any]:
    """Validate a statement object: exact member set, the form of every member, and its body.

    Raises:
        FormatError: the message names the member and what is wrong with it.
    """
    return _validate_statement(statement)[0]


def _validate_statement(statement: object, canonical: bytes | None = None) -> tuple[dict[str, Any], bytes]:
    st = _obj(statement, STATEMENT_MEMBERS, "statement")
    if not isinstance(st["type"], str) or st["type"] not in STATEMENT_TYPES:
        raise FormatError(f"statement.type: unknown statement type {st['type']!r}")
    _check_origin(st["origin"])
    _subject(st["actor"], "statement.actor")
    _key_id(st["key_id"], "statement.key_id")
    _uuid(st["aggregate"], "statement.aggregate")
    _int(st["version"], "statement.version", minimum=1)
    check_time(st["time"], what="statement.time")
    validate_body(st["type"], st["body"])
    if canonical is not None:
        return st, canonical
    try:
        return st, canonicalize(st)
    except CanonicalizationError as e:
        raise FormatError(f"statement is not canonical JSON: {e}") from None


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature object ``{"signer", "key_id", "sig"}`` with the signature bytes decoded."""

    signer: str
    key_id: str
    sig: bytes

    def to_dict(self) -> dict[str, str]:
        """The JSON form of the signature object."""
        return {"signer": self.signer, "key_id": self.key_id, "sig": b64encode(self.sig)}


@dataclass(frozen=True, slots=True)
class SignedStatement:
    """A statement whose shape has been validated, with its signature objects (actor's first)."""

    statement: dict[str, Any]
    signatures: tuple[Signature, ...]
    canonical: bytes = b""  # canonical(statement), computed once when parsed

    @property
    def type(self) -> str:
        """The statement type."""
        return str(self.statement["type"])

    @property
    def actor(self) -> str:
        """The subject making the statement."""
        return str(self.statement["actor"])

    @property
    def aggregate(self) -> str:
        """The aggregate id the statement acts on."""
        return str(self.statement["aggregate"])

    @property
    def version(self) -> int:
        """The aggregate version this statement creates."""
        return int(self.statement["version"])

    @property
    def origin(self) -> str:
        """The origin of the log the statement is meant for."""
        return str(self.statement["origin"])

    @property
    def body(self) -> dict[str, Any]:
        """The body object."""
        body: dict[str, Any] = self.statement["body"]
        return body

    @property
    def signers(self) -> frozenset[str]:
        """The subjects that signed (the actor is always one)."""
        return frozenset(s.signer for s in self.signatures)

    def message(self) -> bytes:
        """The signed message of the statement."""
        if self.canonical:
            return STATEMENT_DOMAIN + self.canonical
        return signed_message(self.statement)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ``{"statement", "signatures"}``."""
        return {"statement": self.statement, "signatures": [s.to_dict() for s in self.signatures]}


_SIGNATURE = frozenset({"signer", "key_id", "sig"})


def parse_signed_statement(obj: object, *, canonical: bytes | None = None) -> SignedStatement:
    """Validate a signed statement ``{"statement": {...}, "signatures": [...]}`` and return it parsed.

    Checks the statement (validate_statement), then the signatures: a non-empty array of objects with exactly
    ``signer``, ``key_id``, ``sig``; the first is the actor's with the statement's ``key_id``; no signer
    twice; each ``sig`` canonical base64 of 64 bytes. Signatures are not verified here (see verify_signature).
    ``canonical``, when the caller already holds canonical(statement) (cut out of canonical entry bytes), saves
    computing it again.

    Raises:
        FormatError: the message names the member and what is wrong.
    """
    top = _obj(obj, frozenset({"statement", "signatures"}), "signed statement")
    st, canonical = _validate_statement(top["statement"], canonical)
    raw = top["signatures"]
    if not isinstance(raw, list) or not raw:
        raise FormatError("signatures must be a non-empty array")
    sigs: list[Signature] = []
    seen: set[str] = set()
    for i, s in enumerate(raw):
        s = _obj(s, _SIGNATURE, f"signatures[{i}]")
        signer = _subject(s["signer"], f"signatures[{i}].signer")
        kid = _key_id(s["key_id"], f"signatures[{i}].key_id")
        sig = b64decode(s["sig"], what=f"signatures[{i}].sig", size=64)
        if signer in seen:
            raise FormatError(f"signatures[{i}].signer {signer} signs twice")
        seen.add(signer)
        sigs.append(Signature(signer, kid, sig))
    if sigs[0].signer != st["actor"]:
        raise FormatError(f"signatures[0].signer must be the actor {st['actor']}, got {sigs[0].signer}")
    if sigs[0].key_id != st["key_id"]:
        raise FormatError(f"signatures[0].key_id must be the statement's key_id {st['key_id']}")
    return SignedStatement(st, tuple(sigs), canonical)


def signed_message(statement: Mapping[str, Any]) -> bytes:
    """The bytes every signature of a statement covers: STATEMENT_DOMAIN || canonical(statement).

    Raises:
        CanonicalizationError: the statement holds a value outside the canonical JSON data model.
    """
    return STATEMENT_DOMAIN + canonicalize(statement)


def _signing_key(seed: bytes) -> nacl.signing.SigningKey:
    if not isinstance(seed, bytes) or len(seed) != 32:
        raise FormatError("an Ed25519 seed (private key) has 32 bytes")
    return nacl.signing.SigningKey(seed)


def sign_statement(statement: Mapping[str, Any], signer: str, seed: bytes) -> dict[str, str]:
    """Sign a statement with the Ed25519 key of ``seed``; return the signature object {signer, key_id, sig}.

    Raises:
        FormatError: ``seed`` is not 32 bytes.
        CanonicalizationError: the statement is not canonicalisable.
    """
    key = _signing_key(seed)
    sig = key.sign(signed_message(statement)).signature
    return {"signer": signer, "key_id": key_id(bytes(key.verify_key)), "sig": b64encode(sig)}


def public_key_of(seed: bytes) -> bytes:
    """The 32-byte Ed25519 public key of a 32-byte seed.

    Raises:
        FormatError: ``seed`` is not 32 bytes.
    """
    return bytes(_signing_key(seed).verify_key)


def verify_signature(message: bytes, sig: bytes, public_key: bytes, *, key_id: str = "", signer: str = "") -> None:
    """Verify an Ed25519 signature (RFC 8032, pure) over ``message``.

    Raises:
        SignatureError: the signature is not 64 bytes, the public key is not 32 bytes, or the signature does
            not verify; ``key_id`` and ``name`` (= ``signer``) are carried on the error.
    """
    if not isinstance(sig, bytes) or len(sig) != 64:
        raise SignatureError(f"signature by {signer or key_id} is not 64 bytes", key_id=key_id, name=signer)
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise SignatureError(f"public key {key_id} is not 32 bytes", key_id=key_id, name=signer)
    try:
        nacl.signing.VerifyKey(public_key).verify(message, sig)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        raise SignatureError(
            f"signature by {signer or '?'} with key {key_id or '?'} does not verify",
            key_id=key_id,
            name=signer,
        ) from None


def verify_signatures(signed: SignedStatement, public_key_for: Callable[[str, str], bytes]) -> frozenset[str]:
    """Verify every signature of a signed statement; return the set of signers.

    ``public_key_for(signer, key_id)`` returns the public key valid for that signer at the entry's position
    (for example ``KeyHistory.key_at`` bound to an index) and raises UnknownKeyError when there is none.

    Raises:
        UnknownKeyError: from ``public_key_for``.
        SignatureError: a signature does not verify.
    """
    message = signed.message()
    for s in signed.signatures:
        verify_signature(message, s.sig, public_key_for(s.signer, s.key_id), key_id=s.key_id, signer=s.signer)
    return signed.signers


def make_statement(
    type: str,
    origin: str,
    actor: str,
    key_id: str,
    aggregate: str,
    version: int,
    time: str,
    body: Mapping[str, Any],
) -> dict[str, Any]:
    """Build a statement object from its members (no validation; see validate_statement)."""
    return {
        "type": type,
        "origin": origin,
        "actor": actor,
        "key_id": key_id,
        "aggregate": aggregate,
        "version": version,
        "time": time,
        "body": dict(body),
    }
