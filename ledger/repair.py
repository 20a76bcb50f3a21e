"""Credit repair (信用修复, 信用修复管理办法 2026): severities, publicity periods, applications and decisions, the
publicity clock, what public views withhold, and the repair indicators.

Negative records (docs/format-judgments.md) are classified minor, general or serious by a configurable rule
(``RepairPolicy``; docs/casework.md). A record is publicly disclosed from its date until it is repaired (an
approved ``repair.applied``), or until its maximum publicity period ends (the operator's clock writes
``repair.publicity_ended``). A repair may be approved only after the minimum period. Either way the entry stays in
the log and in the auditor's view; it leaves the subject's figures and the public views.
"""

from __future__ import annotations

import calendar
import datetime
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import MalformedInput, NotFound, RuleRejected
from ledger.judgments import case, cases, negative_records
from ledger.objections import Calendar, today, under_objection
from ledger.parties import Party
from ledger.service import Ledger, Receipt
from verifier.rules import RepairState
from verifier.rules.repair import RECORD_KINDS
from verifier.statement import SEVERITIES

__all__ = [
    "RepairPolicy",
    "add_months",
    "apply_for_repair",
    "classify",
    "decide_repair",
    "expire_publicity",
    "public_records",
    "repair_indicators",
    "repairs",
    "withheld",
]


def add_months(date: str, months: int) -> str:
    """``date`` plus ``months`` calendar months (the day clamped to the month's last day)."""
    d = datetime.date.fromisoformat(date)
    month0 = d.month - 1 + months
    year, month = d.year + month0 // 12, month0 % 12 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return datetime.date(year, month, day).isoformat()


def _default_severity() -> dict[str, str]:
    return {
        "overdue": "minor",
        "commitment_overdue": "minor",
        "failed": "general",
        "commitment_broken": "general",
        "judgment": "serious",
    }


@dataclass(frozen=True)
class RepairPolicy:
    """Severity rule and publicity periods (months), and the working days the operator has to decide.

    ``severity`` maps each record kind to a severity; a record about a milestone of at least
    ``escalate_amount`` fen is one level more severe (0: never). ``min_months`` is the publicity before a
    repair may be approved, ``max_months`` the publicity after which it ends by itself.
    """

    severity: Mapping[str, str] = field(default_factory=_default_severity)
    escalate_amount: int = 100_000_000
    min_months: Mapping[str, int] = field(default_factory=lambda: {"minor": 0, "general": 3, "serious": 12})
    max_months: Mapping[str, int] = field(default_factory=lambda: {"minor": 3, "general": 12, "serious": 36})
    decision_days: int = 10
    calendar: Calendar = field(default_factory=Calendar)

    @classmethod
    def from_mapping(cls, obj: Mapping[str, Any], calendar: Calendar | None = None) -> RepairPolicy:
        """A policy from a JSON object with any of the fields; others take the default.

        Raises:
            MalformedInput: an unknown key, kind or severity, a period that is not a non-negative integer, or a
                minimum above its maximum.
        """
        known = {"severity", "escalate_amount", "min_months", "max_months", "decision_days"}
        extra = sorted(set(obj) - known)
        if extra:
            raise MalformedInput("unknown repair policy keys: " + ", ".join(extra), code="malformed")
        base = cls()
        severity = {**base.severity, **dict(obj.get("severity", {}))}
        mins = {**base.min_months, **dict(obj.get("min_months", {}))}
        maxs = {**base.max_months, **dict(obj.get("max_months", {}))}
        for k, v in severity.items():
            if k not in RECORD_KINDS or v not in SEVERITIES:
                raise MalformedInput(f"severity: {k!r} -> {v!r} is not a record kind and severity", code="malformed")
        for s in SEVERITIES:
            for name, table in (("min_months", mins), ("max_months", maxs)):
                v = table.get(s)
                if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                    raise MalformedInput(f"{name}.{s} must be a non-negative integer", code="malformed")
            if mins[s] > maxs[s]:
                raise MalformedInput(f"min_months.{s} is above max_months.{s}", code="malformed")
        numbers = {k: obj.get(k, getattr(base, k)) for k in ("escalate_amount", "decision_days")}
        for k, v in numbers.items():
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise MalformedInput(f"{k} must be a non-negative integer", code="malformed")
        return cls(severity, numbers["escalate_amount"], mins, maxs, numbers["decision_days"], calendar or Calendar())

    @classmethod
    def from_file(cls, path: Path | None, calendar: Calendar | None = None) -> RepairPolicy:
        """A policy from a JSON file (None: the defaults).

        Raises:
            MalformedInput: as from_mapping, or the file is not a JSON object. OSError: unreadable.
        """
        if path is None:
            return cls(calendar=calendar or Calendar())
        obj = json.loads(path.read_text("utf-8"))
        if not isinstance(obj, dict):
            raise MalformedInput(f"{path} is not a JSON object", code="malformed")
        return cls.from_mapping(obj, calendar)

    def to_dict(self) -> dict[str, Any]:
        """The published policy."""
        return {
            "severity": dict(self.severity),
            "escalate_amount": self.escalate_amount,
            "min_months": dict(self.min_months),
            "max_months": dict(self.max_months),
            "decision_days": self.decision_days,
        }


def classify(record: Mapping[str, Any], policy: RepairPolicy | None = None) -> dict[str, Any]:
    """A negative record (from ledger.judgments.negative_records) with its ``severity``, ``repairable_from``
    (end of the minimum period) and ``publicity_until`` (end of the maximum period)."""
    policy = policy or RepairPolicy()
    severity = policy.severity.get(record["kind"], "general")
    if policy.escalate_amount and record["amount"] >= policy.escalate_amount and severity != "serious":
        severity = SEVERITIES[SEVERITIES.index(severity) + 1]
    return {
        **record,
        "severity": severity,
        "repairable_from": add_months(record["on"], policy.min_months[severity]),
        "publicity_until": add_months(record["on"], policy.max_months[severity]),
    }


def _record(ledger: Ledger, subject: str, entry: int, policy: RepairPolicy) -> dict[str, Any]:
    for r in negative_records(ledger, subject):
        if r["entry"] == entry:
            return classify(r, policy)
    raise RuleRejected(f"entry {entry} is not a negative record about {subject}", code="not_negative")


def withheld(ledger: Ledger, subject: str | None = None) -> set[int]:
    """Entries no longer publicly disclosed (repaired, or publicity ended), of ``subject`` or of anyone."""
    out: set[int] = set()
    for status in ("approved", "ended"):
        out.update(int(c.entry) for c in cases(ledger, "repair", status=status, subject=subject) if c.entry is not None)
    return out


def apply_for_repair(party: Party, entry: int, commitment: str, reason: str) -> tuple[str, Receipt]:
    """``party`` applies for the repair of its negative record ``entry`` with its credit-repair commitment.

    Refused: a record already withheld or with an application pending (``already_applied``).

    Raises:
        RuleRejected: ``already_applied``, ``not_negative``, ``wrong_commitment`` and the other rule codes.
    """
    ledger = party.ledger
    open_cases = [c for c in cases(ledger, "repair", subject=party.subject, entry=entry) if c.status != "rejected"]
    if open_cases:
        raise RuleRejected(f"entry {entry} has a repair {open_cases[0].status} already", code="already_applied")
    aggregate = str(uuid.uuid4())
    body = {"entry": entry, "commitment": commitment, "reason": reason}
    return aggregate, party.submit("repair.applied", aggregate, body)


def decide_repair(
    ledger: Ledger,
    repair: str,
    *,
    approve: bool,
    reason: str,
    policy: RepairPolicy | None = None,
    on: str | None = None,
) -> Receipt:
    """The operator approves (after the minimum publicity period, as of ``on``, default today) or rejects.

    Raises:
        NotFound: no such repair. RuleRejected: ``too_early`` (minimum period not over), ``not_negative``,
            ``illegal_transition`` (decided already).
    """
    policy = policy or RepairPolicy()
    state = ledger.aggregate(repair)[1]
    if not isinstance(state, RepairState):
        raise NotFound(f"no repair {repair}", code="no_repair")
    if not approve:
        return ledger.submit_as_platform("operator", "repair.rejected", repair, {"reason": reason})
    record = _record(ledger, state.subject, state.entry, policy)
    on = on or today()
    if on < record["repairable_from"]:
        raise RuleRejected(
            f"a {record['severity']} record can be repaired from {record['repairable_from']}",
            code="too_early",
            repairable_from=record["repairable_from"],
        )
    body = {"severity": record["severity"], "reason": reason}
    return ledger.submit_as_platform("operator", "repair.approved", repair, body)


def expire_publicity(ledger: Ledger, as_of: str, policy: RepairPolicy | None = None) -> list[Receipt]:
    """The publicity clock: end the publicity of every record whose maximum period is over by ``as_of``."""
    policy = policy or RepairPolicy()
    done = withheld(ledger)
    receipts = []
    for r in negative_records(ledger):
        rec = classify(r, policy)
        if rec["entry"] in done or rec["publicity_until"] > as_of:
            continue
        if rec["entry"] in withheld(ledger, rec["subject"]):
            continue
        body = {"subject": rec["subject"], "entry": rec["entry"], "severity": rec["severity"], "as_of": as_of}
        receipts.append(ledger.submit_as_platform("operator", "repair.publicity_ended", str(uuid.uuid4()), body))
    return receipts


def public_records(
    ledger: Ledger, subject: str, policy: RepairPolicy | None = None, *, full: bool = False
) -> list[dict[str, Any]]:
    """A subject's negative records, classified, each marked ``under_objection`` and ``withheld``; public views
    (``full`` False) leave out the withheld ones, the auditor's view keeps them."""
    policy = policy or RepairPolicy()
    hidden = withheld(ledger, subject)
    objected = under_objection(ledger)
    out = []
    for r in negative_records(ledger, subject):
        rec = classify(r, policy)
        rec["withheld"] = rec["entry"] in hidden
        rec["under_objection"] = rec["entry"] in objected
        if full or not rec["withheld"]:
            out.append(rec)
    return out


def repairs(ledger: Ledger, policy: RepairPolicy | None = None, *, status: str | None = None) -> list[dict[str, Any]]:
    """Repair cases with their decision due date and ``in_time`` (decided within ``decision_days``)."""
    policy = policy or RepairPolicy()
    out = []
    for c in cases(ledger, "repair", status=status):
        due = policy.calendar.add_working_days(c.opened_on, policy.decision_days)
        decided = c.decided_on if c.status in ("approved", "rejected") else None
        out.append({**c.to_dict(), "due": due, "in_time": None if decided is None else decided <= due})
    return out


def repair(ledger: Ledger, aggregate: str) -> dict[str, Any]:
    """One repair case.

    Raises:
        NotFound: no such repair.
    """
    c = case(ledger, aggregate)
    if c.kind != "repair":
        raise NotFound(f"no repair {aggregate}", code="no_repair")
    return c.to_dict()


def repair_indicators(ledger: Ledger, policy: RepairPolicy | None = None) -> dict[str, Any]:
    """信用修复 indicators: applications, approved, rejected, pending, publicity ended; ``pass_rate``
    (信用修复通过率: basis points of approvals over decisions) and ``decided_in_time_rate``; None without
    decisions."""
    rows = repairs(ledger, policy)
    applied = [r for r in rows if r["status"] != "ended"]
    decided = [r for r in applied if r["in_time"] is not None]
    approved = sum(1 for r in applied if r["status"] == "approved")
    return {
        "applications": len(applied),
        "approved": approved,
        "rejected": sum(1 for r in applied if r["status"] == "rejected"),
        "pending": sum(1 for r in applied if r["status"] == "applied"),
        "publicity_ended": sum(1 for r in rows if r["status"] == "ended"),
        "pass_rate": None if not decided else approved * 10000 // len(decided),
        "decided_in_time_rate": None
        if not decided
        else sum(1 for r in decided if r["in_time"]) * 10000 // len(decided),
    }
