"""Subscriptions (跟踪推送): a party follows a subject it is entitled to follow; each subscription keeps its
position (the index of the next entry to look at) so delivery resumes after a restart.

A party may follow its counterparties (subjects with which it is party to some contract) and any public subject
(an organisation: a credit code). Persons are followed only by their counterparties. A follow request is signed
by the follower's key: Ed25519 over ``"lvyue/follow/v1\\n" || canonical(request)``.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from nacl.signing import SigningKey
from sqlalchemy import BigInteger, Column, MetaData, Table, Text, delete, insert, select, update

from ledger.client import KeyFile, now
from ledger.errors import BadSignature, Forbidden, MalformedInput, NotFound
from ledger.judgments import casework_engine
from ledger.objections import subject_entries
from ledger.service import Ledger
from verifier.canonical import canonicalize
from verifier.errors import SignatureError, VerifierError
from verifier.identity import check_subject_id, is_credit_code
from verifier.statement import b64decode, b64encode, check_time, verify_signature

__all__ = [
    "FOLLOW_DOMAIN",
    "Event",
    "Subscription",
    "counterparties",
    "events_after",
    "follow",
    "follow_signed",
    "get_subscription",
    "may_follow",
    "sign_follow_request",
    "subscriptions",
    "unfollow",
]

FOLLOW_DOMAIN = b"lvyue/follow/v1\n"

METADATA = MetaData()
SUBSCRIPTIONS = Table(
    "case_subscriptions",
    METADATA,
    Column("id", Text, primary_key=True),
    Column("follower", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("url", Text),  # webhook URL; null: server-sent events only
    Column("position", BigInteger, nullable=False),  # next entry index to look at
    Column("attempts", BigInteger, nullable=False),  # failed deliveries in a row
    Column("next_attempt", Text, nullable=False),  # ISO time; empty: now
    Column("last_error", Text),
    Column("created", Text, nullable=False),
)


def _engine(ledger: Ledger) -> Any:
    engine = casework_engine(ledger)
    METADATA.create_all(engine)
    return engine


@dataclass(frozen=True)
class Subscription:
    """A follower's subscription to a subject."""

    id: str
    follower: str
    subject: str
    url: str | None
    position: int
    attempts: int
    next_attempt: str
    last_error: str | None
    created: str

    def to_dict(self) -> dict[str, Any]:
        """The subscription as a JSON-ready object."""
        return {
            "id": self.id,
            "follower": self.follower,
            "subject": self.subject,
            "url": self.url,
            "position": self.position,
            "attempts": self.attempts,
            "next_attempt": self.next_attempt,
            "last_error": self.last_error,
            "created": self.created,
        }


def _sub(r: Any) -> Subscription:
    return Subscription(
        r.id, r.follower, r.subject, r.url, int(r.position), int(r.attempts), r.next_attempt, r.last_error, r.created
    )


def counterparties(ledger: Ledger, subject: str) -> set[str]:
    """Subjects that are parties with ``subject`` in some contract (proposed or amended terms)."""
    out: set[str] = set()
    for entry in subject_entries(ledger, subject):
        st = entry["statement"]
        if st["type"] in ("contract.proposed", "contract.amended"):
            out.update(p["subject"] for p in st["body"]["terms"]["parties"])
    out.discard(subject)
    return out


def may_follow(ledger: Ledger, follower: str, subject: str) -> bool:
    """True when ``follower`` may follow ``subject``: a public subject (organisation) or a counterparty."""
    return is_credit_code(subject) or subject in counterparties(ledger, follower)


def follow(ledger: Ledger, follower: str, subject: str, url: str | None = None, *, start: int | None = None) -> str:
    """Subscribe ``follower`` to ``subject``'s changes from entry ``start`` (default: the next entry); return the
    subscription id (a random UUID, also the capability to read its server-sent events).

    Raises:
        MalformedInput: a malformed subject id or URL. NotFound: an unregistered follower or subject.
        Forbidden: ``not_entitled``.
    """
    for s in (follower, subject):
        try:
            if check_subject_id(s) != s:
                raise MalformedInput(f"{s} is not in normal form", code="malformed")
        except VerifierError as e:
            raise MalformedInput(str(e), code="malformed") from None
        if not ledger.is_registered(s):
            raise NotFound(f"{s} is not registered", code="not_registered")
    if url is not None and not url.startswith(("http://", "https://")):
        raise MalformedInput("the webhook URL must be http:// or https://", code="malformed")
    if not may_follow(ledger, follower, subject):
        raise Forbidden(f"{follower} may not follow {subject}: not a counterparty", code="not_entitled")
    sid = str(uuid.uuid4())
    row = {
        "id": sid,
        "follower": follower,
        "subject": subject,
        "url": url,
        "position": ledger.size() if start is None else max(start, 0),
        "attempts": 0,
        "next_attempt": "",
        "last_error": None,
        "created": datetime.now(UTC).isoformat(),
    }
    with _engine(ledger).begin() as conn:
        conn.execute(insert(SUBSCRIPTIONS).values(**row))
    return sid


def sign_follow_request(key: KeyFile, subject: str, url: str | None = None, start: int | None = None) -> dict[str, Any]:
    """A signed follow request ``{"request": {follower, key_id, subject, url, start, time, nonce}, "sig"}``."""
    request = {
        "follower": key.subject,
        "key_id": key.key_id,
        "subject": subject,
        "url": url,
        "start": start,
        "time": now(),
        "nonce": secrets.token_hex(8),
    }
    signature = SigningKey(key.seed).sign(FOLLOW_DOMAIN + canonicalize(request)).signature
    return {"request": request, "sig": b64encode(signature)}


def follow_signed(ledger: Ledger, signed: Mapping[str, Any]) -> str:
    """Check a signed follow request against the follower's key valid now, then follow (see ``follow``).

    Raises:
        MalformedInput: not a signed follow request. BadSignature: unknown or revoked key, bad signature.
        NotFound, Forbidden: as ``follow``.
    """
    request = signed.get("request") if isinstance(signed, Mapping) else None
    members = {"follower", "key_id", "subject", "url", "start", "time", "nonce"}
    if not isinstance(request, dict) or set(request) != members:
        raise MalformedInput("a follow request has exactly " + ", ".join(sorted(members)), code="malformed")
    try:
        check_time(request["time"])
        sig = b64decode(signed.get("sig"), what="sig", size=64)
        message = FOLLOW_DOMAIN + canonicalize(request)
    except VerifierError as e:
        raise MalformedInput(str(e), code="malformed") from None
    start = request["start"]
    if start is not None and (isinstance(start, bool) or not isinstance(start, int)):
        raise MalformedInput("start must be an entry index or null", code="malformed")
    follower, key_id = str(request["follower"]), str(request["key_id"])
    row = ledger.store.key(follower, key_id)
    if row is None or row[2] is not None:
        raise BadSignature(f"{key_id} is not a valid key of {follower}", code="unknown_key")
    try:
        verify_signature(message, sig, row[0], key_id=key_id, signer=follower)
    except SignatureError as e:
        raise BadSignature(str(e), code="bad_signature") from None
    return follow(ledger, follower, str(request["subject"]), request["url"], start=start)


def subscriptions(ledger: Ledger, follower: str | None = None) -> list[Subscription]:
    """Subscriptions, oldest first (of ``follower`` when given)."""
    q = select(SUBSCRIPTIONS)
    if follower is not None:
        q = q.where(SUBSCRIPTIONS.c.follower == follower)
    with _engine(ledger).connect() as conn:
        return [_sub(r) for r in conn.execute(q.order_by(SUBSCRIPTIONS.c.created, SUBSCRIPTIONS.c.id))]


def get_subscription(ledger: Ledger, sid: str) -> Subscription:
    """One subscription.

    Raises:
        NotFound: no such subscription.
    """
    with _engine(ledger).connect() as conn:
        r = conn.execute(select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == sid)).first()
    if r is None:
        raise NotFound(f"no subscription {sid}", code="no_subscription")
    return _sub(r)


def unfollow(ledger: Ledger, sid: str) -> None:
    """Delete a subscription.

    Raises:
        NotFound: no such subscription.
    """
    with _engine(ledger).begin() as conn:
        if not conn.execute(delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == sid)).rowcount:
            raise NotFound(f"no subscription {sid}", code="no_subscription")


def save_progress(
    ledger: Ledger, sid: str, *, position: int, attempts: int = 0, next_attempt: str = "", error: str | None = None
) -> None:
    """Store a subscription's delivery position and retry state."""
    values = {"position": position, "attempts": attempts, "next_attempt": next_attempt, "last_error": error}
    with _engine(ledger).begin() as conn:
        conn.execute(update(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == sid).values(**values))


@dataclass(frozen=True)
class Event:
    """A change of a followed subject's credit status: one entry concerning it."""

    index: int
    body: dict[str, Any]

    def data(self) -> bytes:
        """The event as canonical JSON bytes (what is signed and sent)."""
        return canonicalize(self.body)


def events_after(ledger: Ledger, subject: str, position: int, *, limit: int = 100) -> tuple[list[Event], int]:
    """Entries concerning ``subject`` from index ``position`` on, in log order (at most ``limit``), as events,
    and the position after the last entry looked at."""
    size = ledger.size()
    events: list[Event] = []
    index = position
    for index, data in ledger.entries(position, size):
        entry = orjson.loads(data)
        if subject in entry["links"]:
            st = entry["statement"]
            body = {
                "origin": ledger.origin,
                "index": index,
                "subject": subject,
                "type": st["type"],
                "aggregate": st["aggregate"],
                "actor": st["actor"],
                "time": st["time"],
                "received": entry["received"],
            }
            events.append(Event(index, body))
            if len(events) >= limit:
                return events, index + 1
    return events, max(size, position)


def iter_events(ledger: Ledger, subject: str, position: int) -> Iterator[Event]:
    """Every event from ``position`` to the current end of the log."""
    while True:
        events, position_after = events_after(ledger, subject, position)
        yield from events
        if position_after >= ledger.size() or not events:
            return
        position = position_after
