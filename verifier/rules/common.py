"""What every rule module shares: the cross-aggregate facts, the outcome, signer and date checks."""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

from verifier.errors import RuleViolation

if TYPE_CHECKING:
    from verifier.rules import AggregateState

__all__ = [
    "CHINA_OFFSET",
    "Facts",
    "Outcome",
    "concerns",
    "date_of",
    "local_date",
    "require_random_aggregate",
    "require_signers",
]

CHINA_OFFSET = datetime.timedelta(hours=8)


@dataclass(frozen=True, slots=True)
class Facts:
    """Facts from outside the aggregate, as they stand where the statement lands in the log.

    ``operator`` and ``authority`` are the subjects named in genesis (empty strings while applying genesis).
    ``is_registered(subject)`` is true for subjects registered before (genesis subjects count as registered);
    ``key_is_valid(subject, key_id)`` tells whether the key is valid at the statement's index.
    Optional facts are checked when given: ``key_was_bound(subject, key_id)`` (ever bound, even if revoked),
    ``judgment_exists(aggregate id)`` for ``judgment.applied``, and ``index`` (the entry index the statement
    will get) for references to earlier entries. For section 7a (judgments, objections, repairs):
    ``earlier_entry(i)`` returns the statement of an existing earlier entry ``i`` and the subjects its ``links``
    name (None when there is no such entry), ``aggregate_state(id)`` the current rule state of another
    aggregate (None when it has no statements).
    """

    operator: str
    authority: str
    is_registered: Callable[[str], bool]
    key_is_valid: Callable[[str, str], bool]
    key_was_bound: Callable[[str, str], bool] | None = None
    judgment_exists: Callable[[str], bool] | None = None
    index: int | None = None
    earlier_entry: Callable[[int], tuple[Mapping[str, Any], tuple[str, ...]] | None] | None = None
    aggregate_state: Callable[[str], object | None] | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The aggregate's state after the statement and the subjects it concerns (sorted, unique, with actor)."""

    state: AggregateState
    concerns: tuple[str, ...]


_T = TypeVar("_T")
_RANDOM_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
"""A version 4, RFC 4122 variant UUID, lower-case and hyphenated."""
_SLOTS: dict[type, tuple[str, ...]] = {}


def evolve(state: _T, **changes: Any) -> _T:
    """A copy of a frozen, slotted state dataclass with ``changes`` applied: ``dataclasses.replace`` without
    re-running ``__init__`` (the states have no ``__post_init__``), several times faster on a verifier's hot path.
    """
    cls = type(state)
    names = _SLOTS.get(cls)
    if names is None:
        names = _SLOTS[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    new = object.__new__(cls)
    for name in names:
        object.__setattr__(new, name, changes[name] if name in changes else getattr(state, name))
    return new


def concerns(*groups: Iterable[str]) -> tuple[str, ...]:
    """Sorted, duplicate-free union of the given subject ids."""
    out: set[str] = set()
    for g in groups:
        out.update(g)
    return tuple(sorted(out))


def require_signers(signers: Collection[str], required: Collection[str], allowed: Collection[str]) -> None:
    """Check that every required subject signed and nobody outside ``allowed`` did.

    Raises:
        RuleViolation: ``missing_signature`` or ``unexpected_signer`` (the subjects are named).
    """
    missing = sorted(s for s in required if s not in signers)
    if missing:
        raise RuleViolation("missing_signature", "a signature is required from " + ", ".join(missing))
    extra = sorted(s for s in signers if s not in allowed)
    if extra:
        raise RuleViolation("unexpected_signer", "not allowed to sign this statement: " + ", ".join(extra))


def date_of(s: str) -> datetime.date:
    """The date of a ``YYYY-MM-DD`` string already validated by verifier.statement."""
    return datetime.date.fromisoformat(s)


def local_date(time: str) -> datetime.date:
    """The calendar date in China Standard Time (UTC+8) of a statement time ``...Z``."""
    t = datetime.datetime.fromisoformat(time.replace("Z", "+00:00"))
    return (t + CHINA_OFFSET).date()


def require_random_aggregate(aggregate: str) -> None:
    """Contracts and commitments live in aggregates with a random (version 4) UUID.

    Raises:
        RuleViolation: ``wrong_aggregate`` when the id is not a version 4 UUID.
    """
    if _RANDOM_UUID.fullmatch(aggregate):  # the normal form statements use: no need to parse it
        return
    try:
        version = uuid.UUID(aggregate).version
    except ValueError:
        version = None
    if version != 4:
        raise RuleViolation("wrong_aggregate", f"aggregate {aggregate} is not a random (version 4) UUID")


def require_not_after_statement(on: str, time: str, what: str) -> datetime.date:
    """A date the actor reports must not be later than the statement's own date (China Standard Time).

    Raises:
        RuleViolation: ``bad_date``.
    """
    d = date_of(on)
    if d > local_date(time):
        raise RuleViolation("bad_date", f"{what} {on} is later than the statement's date")
    return d
