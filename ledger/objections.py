"""Objections (信用异议): filing, the operator's decision within a time limit in working days, overdue cases,
indicators; and the working-day calendar the casework modules share.

A subject files ``objection.filed`` about an entry concerning it; the entry is marked under objection (异议标注)
in views until the operator decides: ``objection.upheld`` (with the correction; the corrected record leaves the
subject's figures, docs/grading.md) or ``objection.rejected``. The decision is due within ``limit`` working days
after the filing date (default 15; weekends and the holidays of an optional list excluded).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ledger.errors import MalformedInput, NotFound, RuleRejected
from ledger.judgments import CaseRow, case, cases
from ledger.parties import Party
from ledger.service import Ledger, Receipt
from verifier.rules import ObjectionState

__all__ = [
    "Calendar",
    "ObjectionPolicy",
    "decide_objection",
    "file_objection",
    "objection_indicators",
    "objections",
    "overdue_objections",
    "subject_entries",
    "today",
    "under_objection",
]


def today() -> str:
    """Today's date in China Standard Time."""
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=8)).date().isoformat()


def subject_entries(ledger: Ledger, subject: str) -> list[dict[str, Any]]:
    """The entries concerning ``subject`` in log order (its chain, followed back from its head)."""
    chain: list[dict[str, Any]] = []
    index = ledger.store.subject_head(subject)
    while index is not None:
        entry = orjson.loads(ledger.entry(index))
        chain.append(entry)
        link = entry["links"].get(subject)
        index = link if isinstance(link, int) else None
    chain.reverse()
    return chain


@dataclass(frozen=True)
class Calendar:
    """Working days: Monday to Friday, less ``holidays``, plus ``workdays`` (weekend days worked, 调休)."""

    holidays: frozenset[datetime.date] = frozenset()
    workdays: frozenset[datetime.date] = frozenset()

    @classmethod
    def from_file(cls, path: Path | None) -> Calendar:
        """A calendar from a text file: one date per line, ``YYYY-MM-DD`` a holiday, ``+YYYY-MM-DD`` a worked
        weekend day; ``#`` starts a comment. None: no holidays.

        Raises:
            MalformedInput: a line is not a date. OSError: the file cannot be read.
        """
        if path is None:
            return cls()
        holidays: set[datetime.date] = set()
        workdays: set[datetime.date] = set()
        for n, raw in enumerate(path.read_text("utf-8").splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            target = workdays if line.startswith("+") else holidays
            try:
                target.add(datetime.date.fromisoformat(line.lstrip("+")))
            except ValueError:
                raise MalformedInput(f"{path}:{n}: not a date: {line!r}", code="malformed") from None
        return cls(frozenset(holidays), frozenset(workdays))

    def is_working_day(self, day: datetime.date) -> bool:
        """True for a working day."""
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: str, days: int) -> str:
        """The date ``days`` working days after the date ``start`` (the start itself not counted)."""
        day = datetime.date.fromisoformat(start)
        left = days
        while left > 0:
            day += datetime.timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day.isoformat()


@dataclass(frozen=True)
class ObjectionPolicy:
    """The operator's time limit for deciding objections, in working days."""

    limit: int = 15
    calendar: Calendar = field(default_factory=Calendar)

    def due(self, filed_on: str) -> str:
        """The last day to decide an objection filed on ``filed_on``."""
        return self.calendar.add_working_days(filed_on, self.limit)


def file_objection(party: Party, entry: int, reason: str) -> tuple[str, Receipt]:
    """``party`` objects to entry ``entry``; returns the objection's aggregate id and the receipt.

    An entry already under an undecided objection by the same subject is refused (``already_objected``).

    Raises:
        RuleRejected: ``already_objected``, ``bad_reference``, ``not_concerned`` and the other rule codes.
        LedgerError: as Ledger.submit.
    """
    import uuid

    ledger = party.ledger
    if cases(ledger, "objection", status="filed", subject=party.subject, entry=entry):
        raise RuleRejected(f"entry {entry} is under objection by {party.subject} already", code="already_objected")
    aggregate = str(uuid.uuid4())
    receipt = party.submit("objection.filed", aggregate, {"entry": entry, "reason": reason})
    return aggregate, receipt


def decide_objection(
    ledger: Ledger, objection: str, *, upheld: bool, reason: str, correction: str | None = None
) -> Receipt:
    """The operator upholds (with ``correction``) or rejects an objection.

    Raises:
        NotFound: no such objection. MalformedInput: upheld without a correction.
        RuleRejected: decided already (``illegal_transition``).
    """
    if not isinstance(ledger.aggregate(objection)[1], ObjectionState):
        raise NotFound(f"no objection {objection}", code="no_objection")
    if upheld:
        if not correction or not correction.strip():
            raise MalformedInput("an upheld objection needs the correction", code="missing_field")
        body = {"reason": reason, "correction": correction}
        return ledger.submit_as_platform("operator", "objection.upheld", objection, body)
    return ledger.submit_as_platform("operator", "objection.rejected", objection, {"reason": reason})


def _view(c: CaseRow, policy: ObjectionPolicy, on: str) -> dict[str, Any]:
    due = policy.due(c.opened_on)
    decided = c.decided_on
    return {
        **c.to_dict(),
        "due": due,
        "overdue": decided is None and on > due,
        "in_time": None if decided is None else decided <= due,
    }


def objections(
    ledger: Ledger, policy: ObjectionPolicy | None = None, *, status: str | None = None, on: str | None = None
) -> list[dict[str, Any]]:
    """Objections (oldest first) with their due date, ``overdue`` (undecided past it as of ``on``, default
    today) and ``in_time`` (decided by then; None while undecided)."""
    policy = policy or ObjectionPolicy()
    on = on or today()
    return [_view(c, policy, on) for c in cases(ledger, "objection", status=status)]


def overdue_objections(ledger: Ledger, policy: ObjectionPolicy | None = None, on: str | None = None) -> list[Any]:
    """Undecided objections past their time limit."""
    return [o for o in objections(ledger, policy, status="filed", on=on) if o["overdue"]]


def under_objection(ledger: Ledger) -> set[int]:
    """Indexes of entries under an undecided objection (异议标注)."""
    return {int(c.entry) for c in cases(ledger, "objection", status="filed") if c.entry is not None}


def _rate(n: int, d: int) -> int | None:
    return None if d == 0 else n * 10000 // d


def _logged(ledger: Ledger) -> int:
    """Entries after genesis (the denominator of the objection rate)."""
    from ledger.judgments import sync

    return max(sync(ledger) - 1, 0)


def objection_indicators(
    ledger: Ledger, policy: ObjectionPolicy | None = None, on: str | None = None
) -> dict[str, Any]:
    """信用异议 indicators: objections filed, upheld, rejected, pending, overdue; ``objection_rate`` (basis points
    of objections filed over the entries after genesis); ``decided_in_time_rate`` (basis points of decisions
    made within the time limit). Rates are None when their denominator is 0."""
    rows = objections(ledger, policy, on=on)
    decided = [o for o in rows if o["in_time"] is not None]
    return {
        "filed": len(rows),
        "upheld": sum(1 for o in rows if o["status"] == "upheld"),
        "rejected": sum(1 for o in rows if o["status"] == "rejected"),
        "pending": sum(1 for o in rows if o["status"] == "filed"),
        "overdue": sum(1 for o in rows if o["overdue"]),
        "objection_rate": _rate(len(rows), _logged(ledger)),
        "decided_in_time_rate": _rate(sum(1 for o in decided if o["in_time"]), len(decided)),
    }


def objection(ledger: Ledger, aggregate: str, policy: ObjectionPolicy | None = None) -> dict[str, Any]:
    """One objection with its due date.

    Raises:
        NotFound: no such objection.
    """
    c = case(ledger, aggregate)
    if c.kind != "objection":
        raise NotFound(f"no objection {aggregate}", code="no_objection")
    return _view(c, policy or ObjectionPolicy(), today())


def iter_dates(start: str, stop: str) -> Iterator[str]:
    """Dates from ``start`` up to, not including, ``stop``."""
    day = datetime.date.fromisoformat(start)
    end = datetime.date.fromisoformat(stop)
    while day < end:
        yield day.isoformat()
        day += datetime.timedelta(days=1)


def entries_of(ledger: Ledger, indexes: Iterable[int]) -> list[dict[str, Any]]:
    """The entries at ``indexes`` as parsed JSON."""
    return [orjson.loads(ledger.entry(i)) for i in indexes]
