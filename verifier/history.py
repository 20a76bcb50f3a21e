"""A subject's credit-history figures (信用档案), recomputed from the subject's own chain of entries.

``compute_history`` reads the entries concerning one subject, in log order, and derives every figure that
docs/grading.md ("Figures") defines: contracts by role and state, milestone performance where the subject is
the obligor (on time, late, partial, failed, overdue, disputed, open), fulfilment rates in basis points,
days overdue, commitments by kind and outcome, arrears of a government body, and milestones owed to the
subject that are overdue. Every figure carries the indexes of the entries behind it, so a credit report can be
checked figure by figure. Integers only: money is fen, rates are basis points with floor division.

The statements are interpreted directly from their bodies (docs/format.md section 7); legality is the rules'
business, this module only refuses what it cannot interpret.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from verifier.errors import FormatError
from verifier.statement import COMMITMENT_KINDS, CONTRACT_STATEMENT_TYPES

__all__ = [
    "COMMITMENT_KINDS",
    "COMMITMENT_OUTCOMES",
    "MILESTONE_CLASSES",
    "Figure",
    "History",
    "OverdueMilestone",
    "compute_history",
]

MILESTONE_CLASSES = (
    "due",
    "on_time",
    "late",
    "partial",
    "failed",
    "overdue_open",
    "disputed",
    "open",
    "terminated",
)
CONTRACT_STATES = ("proposed", "registered", "completed", "terminated", "withdrawn")
CONTRACT_ROLES = ("party", "obligor", "obligee")
COMMITMENT_OUTCOMES = ("open", "overdue", "kept", "broken")
MILESTONE_KINDS = frozenset({"payment", "delivery", "acceptance", "other"})
OUTCOMES = frozenset({"fulfilled", "partial", "failed"})
ARREARS_KINDS = frozenset({"government"})

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")

# Statement types that carry no figure (subjects, keys, genesis) and the section 7a types other than
# judgment.applied (judgments, objections and repairs act on their own aggregates).
_IGNORED_TYPES = frozenset({"log.genesis", "subject.registered", "key.bound", "key.revoked"})
_IGNORED_PREFIXES = ("judgment.", "objection.", "repair.")
_COMMITMENT_TYPES = frozenset({"commitment.made", "commitment.kept", "commitment.broken", "commitment.overdue"})
# Clock and desk statements the operator makes about aggregates it is not party to: they join the operator's
# chain without the statements that created the aggregate.
_CLOCK_TYPES = frozenset({"milestone.overdue", "judgment.applied", "commitment.overdue"})


@dataclass(frozen=True)
class Figure:
    """One figure: an integer value and the indexes (ascending) of the entries behind it."""

    value: int
    entries: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The figure as a JSON-ready object ``{"value", "entries"}``."""
        return {"value": self.value, "entries": list(self.entries)}


@dataclass(frozen=True)
class OverdueMilestone:
    """A milestone not settled after its due date, as of the history's date (``days`` = as_of - due)."""

    contract: str
    milestone: str
    kind: str
    amount: int
    due: str
    days: int
    entries: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """The milestone as a JSON-ready object."""
        return {
            "contract": self.contract,
            "milestone": self.milestone,
            "kind": self.kind,
            "amount": self.amount,
            "due": self.due,
            "days": self.days,
            "entries": list(self.entries),
        }


@dataclass(frozen=True)
class History:
    """A subject's figures as of a date.

    ``figures`` maps the keys of docs/grading.md ("Figures") to figures; the rate keys are absent when their
    denominator is empty. ``overdue`` lists the open overdue milestones where the subject is the obligor,
    ``arrears`` those of them that are payments of a government subject (拖欠账款), ``entries`` the counted
    entries.
    """

    subject: str
    as_of: str
    kind: str | None
    entries: tuple[int, ...]
    figures: Mapping[str, Figure]
    overdue: tuple[OverdueMilestone, ...] = ()
    arrears: tuple[OverdueMilestone, ...] = ()

    def figure(self, key: str) -> Figure | None:
        """The figure named ``key``, or None when it is absent (an undefined rate)."""
        return self.figures.get(key)

    def value(self, key: str) -> int | None:
        """The value of the figure named ``key``, or None when it is absent."""
        fig = self.figures.get(key)
        return None if fig is None else fig.value

    def to_dict(self) -> dict[str, Any]:
        """The history as a JSON-ready object (figures keyed and sorted by name)."""
        return {
            "subject": self.subject,
            "as_of": self.as_of,
            "kind": self.kind,
            "entries": list(self.entries),
            "figures": {key: self.figures[key].to_dict() for key in sorted(self.figures)},
            "overdue": [m.to_dict() for m in self.overdue],
            "arrears": [m.to_dict() for m in self.arrears],
        }


# ---------------------------------------------------------------------------------------------------------
# Parsing helpers


def _fail(index: int, message: str) -> FormatError:
    return FormatError(f"entry {index}: {message}")


def _date(value: Any, index: int, what: str) -> str:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _fail(index, f"{what} is not a date YYYY-MM-DD: {value!r}")
    try:
        datetime.date.fromisoformat(value)
    except ValueError as e:
        raise _fail(index, f"{what} is not a valid date: {value!r}") from e
    return value


def _str(body: Mapping[str, Any], key: str, index: int) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise _fail(index, f"body.{key} is not a non-empty string")
    return value


def _amount(value: Any, index: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(index, f"{what} is not a non-negative integer (fen): {value!r}")
    return value


def _days(later: str, earlier: str) -> int:
    return (datetime.date.fromisoformat(later) - datetime.date.fromisoformat(earlier)).days


def _sorted(indexes: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(indexes)))


# ---------------------------------------------------------------------------------------------------------
# Interpretation state


@dataclass
class _Milestone:
    id: str
    obligor: str
    obligee: str
    due: str
    kind: str
    amount: int
    entries: list[int]
    reported: tuple[str, str, int] | None = None  # outcome, on, amount
    ever_reported: bool = False
    disputed: bool = False
    ever_disputed: bool = False
    settled: tuple[str, str, int] | None = None  # outcome, on, amount
    settled_at: int = -1
    excused: bool = False  # failed by a judgment of breach against the obligee


@dataclass
class _Contract:
    id: str
    proposer: str
    parties: list[str]
    milestones: dict[str, _Milestone]
    terms_entry: int
    state: str = "proposed"
    state_entry: int = -1
    consented: set[str] = field(default_factory=set)


@dataclass
class _Commitment:
    id: str
    maker: str
    kind: str
    deadline: str
    entries: list[int]
    outcome: str = ""  # "", "kept" or "broken"


def _terms(body: Mapping[str, Any], index: int) -> tuple[list[str], list[_Milestone]]:
    terms = body.get("terms")
    if not isinstance(terms, Mapping):
        raise _fail(index, "body.terms is not an object")
    raw_parties = terms.get("parties")
    if not isinstance(raw_parties, list) or not raw_parties:
        raise _fail(index, "terms.parties is not a non-empty array")
    parties: list[str] = []
    for p in raw_parties:
        if not isinstance(p, Mapping) or not isinstance(p.get("subject"), str) or not p["subject"]:
            raise _fail(index, "a party is not an object with a subject")
        if p["subject"] not in parties:
            parties.append(p["subject"])
    raw_milestones = terms.get("milestones")
    if not isinstance(raw_milestones, list):
        raise _fail(index, "terms.milestones is not an array")
    milestones: list[_Milestone] = []
    seen: set[str] = set()
    for m in raw_milestones:
        if not isinstance(m, Mapping):
            raise _fail(index, "a milestone is not an object")
        mid = _str(m, "id", index)
        if mid in seen:
            raise _fail(index, f"milestone id {mid!r} appears twice")
        seen.add(mid)
        kind = m.get("kind")
        if kind not in MILESTONE_KINDS:
            raise _fail(index, f"milestone {mid!r} has an unknown kind {kind!r}")
        milestones.append(
            _Milestone(
                id=mid,
                obligor=_str(m, "obligor", index),
                obligee=_str(m, "obligee", index),
                due=_date(m.get("due"), index, f"milestone {mid!r} due"),
                kind=str(kind),
                amount=_amount(m.get("amount"), index, f"milestone {mid!r} amount"),
                entries=[index],
            )
        )
    return parties, milestones


class _Interpreter:
    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.kind: str | None = None
        self.contracts: dict[str, _Contract] = {}
        self.commitments: dict[str, _Commitment] = {}
        self.judgments_against: list[int] = []
        # section 7a: counted entries (type, aggregate, milestone, judgment against the subject), objections and
        # repairs by aggregate (the entry they are about), and the records they took out of the figures
        self.records: dict[int, tuple[str, str, str | None, bool]] = {}
        self.objections: dict[str, int] = {}
        self.pending: dict[str, int] = {}
        self.repairs: dict[str, int] = {}
        self.corrected: set[int] = set()
        self.repaired: set[int] = set()
        self.publicity_ended: set[int] = set()
        self.void_contracts: set[str] = set()
        self.void_milestones: set[tuple[str, str]] = set()
        self.void_commitments: set[str] = set()
        self.void_judgments: set[int] = set()

    def apply(self, index: int, statement: Mapping[str, Any], date: str) -> None:
        stype = statement["type"]
        body = statement["body"]
        if stype in CONTRACT_STATEMENT_TYPES:
            self._contract(index, stype, statement, body, date)
        elif stype in _COMMITMENT_TYPES:
            self._commitment(index, stype, statement, body)
        elif stype == "subject.registered":
            if body.get("subject") == self.subject:
                kind = body.get("kind")
                if not isinstance(kind, str):
                    raise _fail(index, "body.kind is not a string")
                self.kind = kind
        elif stype.startswith(("objection.", "repair.")):
            self._casework(index, stype, statement, body)
        elif stype in _IGNORED_TYPES or stype.startswith(_IGNORED_PREFIXES):
            pass
        else:
            raise _fail(index, f"unknown statement type {stype!r}")
        milestone = body.get("milestone")
        against = stype == "judgment.applied" and body.get("party") == self.subject
        self.records[index] = (
            stype,
            statement["aggregate"],
            milestone if isinstance(milestone, str) else None,
            against,
        )

    # objections and repairs (docs/grading.md, "Corrected and withheld records") -----------------------------

    def _casework(self, index: int, stype: str, statement: Mapping[str, Any], body: Mapping[str, Any]) -> None:
        aggregate = statement["aggregate"]
        if stype in ("objection.filed", "repair.applied", "repair.publicity_ended"):
            entry = body.get("entry")
            if isinstance(entry, bool) or not isinstance(entry, int) or entry < 0:
                raise _fail(index, f"body.entry is not an entry index: {entry!r}")
            if stype == "objection.filed":
                self.objections[aggregate] = self.pending[aggregate] = entry
            elif stype == "repair.applied":
                self.repairs[aggregate] = entry
            elif body.get("subject") == self.subject and self._void(entry):
                self.publicity_ended.add(entry)
            return
        cases = self.objections if stype.startswith("objection.") else self.repairs
        entry = cases.get(aggregate)
        if entry is None:
            if statement["actor"] == self.subject:  # the operator's decisions on others' cases
                return
            raise _fail(index, f"{stype} for case {aggregate} not opened among the entries")
        if stype in ("objection.upheld", "objection.rejected"):
            self.pending.pop(aggregate, None)
        if stype == "objection.upheld" and self._void(entry):
            self.corrected.add(entry)
        elif stype == "repair.approved" and self._void(entry):
            self.repaired.add(entry)

    def _void(self, entry: int) -> bool:
        """Take the record of counted entry ``entry`` out of the figures; False when it is not counted."""
        record = self.records.get(entry)
        if record is None:
            return False
        stype, aggregate, milestone, against = record
        if stype in _COMMITMENT_TYPES:
            self.void_commitments.add(aggregate)
        elif stype in CONTRACT_STATEMENT_TYPES:
            if against:
                self.void_judgments.add(entry)
            if milestone is not None:
                self.void_milestones.add((aggregate, milestone))
            elif not against:
                self.void_contracts.add(aggregate)
        return True

    # contracts --------------------------------------------------------------------------------------------

    def _milestone(self, contract: _Contract, body: Mapping[str, Any], index: int) -> _Milestone:
        mid = _str(body, "milestone", index)
        m = contract.milestones.get(mid)
        if m is None:
            raise _fail(index, f"contract {contract.id} has no milestone {mid!r}")
        if contract.state != "registered":
            raise _fail(index, f"contract {contract.id} is {contract.state}, not registered")
        return m

    def _contract(
        self, index: int, stype: str, statement: Mapping[str, Any], body: Mapping[str, Any], date: str
    ) -> None:
        cid = statement["aggregate"]
        if stype == "contract.proposed":
            if cid in self.contracts:
                raise _fail(index, f"contract {cid} is proposed twice")
            parties, milestones = _terms(body, index)
            self.contracts[cid] = _Contract(
                id=cid,
                proposer=statement["actor"],
                parties=parties,
                milestones={m.id: m for m in milestones},
                terms_entry=index,
                state_entry=index,
                consented={statement["actor"]},
            )
            return
        contract = self.contracts.get(cid)
        if contract is None:
            if stype in _CLOCK_TYPES and statement["actor"] == self.subject:
                return
            raise _fail(index, f"{stype} for contract {cid} whose proposal is not among the entries")
        if stype == "contract.consented":
            if contract.state != "proposed":
                raise _fail(index, f"consent to contract {cid} in state {contract.state}")
            contract.consented.add(statement["actor"])
            if all(p in contract.consented for p in contract.parties):
                contract.state = "registered"
                contract.state_entry = index
        elif stype == "contract.withdrawn":
            if contract.state != "proposed":
                raise _fail(index, f"withdrawal of contract {cid} in state {contract.state}")
            contract.state = "withdrawn"
            contract.state_entry = index
        elif stype == "contract.amended":
            if contract.state != "registered":
                raise _fail(index, f"amendment of contract {cid} in state {contract.state}")
            parties, milestones = _terms(body, index)
            new: dict[str, _Milestone] = {}
            for m in milestones:
                old = contract.milestones.get(m.id)
                if old is not None:
                    old.obligor, old.obligee, old.due, old.kind, old.amount = (
                        m.obligor,
                        m.obligee,
                        m.due,
                        m.kind,
                        m.amount,
                    )
                    old.entries.append(index)
                    m = old
                new[m.id] = m
            contract.parties = parties
            contract.milestones = new
            contract.terms_entry = index
        elif stype == "contract.terminated":
            self._terminate(contract, index)
        elif stype == "performance.reported":
            m = self._milestone(contract, body, index)
            outcome = body.get("outcome")
            if outcome not in OUTCOMES:
                raise _fail(index, f"unknown outcome {outcome!r}")
            if m.settled is not None:
                raise _fail(index, f"milestone {m.id} is already settled")
            m.reported = (
                str(outcome),
                _date(body.get("on"), index, "body.on"),
                _amount(body.get("amount"), index, "body.amount"),
            )
            m.ever_reported = True
            m.disputed = False
            m.entries.append(index)
        elif stype == "performance.confirmed":
            m = self._milestone(contract, body, index)
            if m.reported is None or m.settled is not None:
                raise _fail(index, f"confirmation of milestone {m.id} with no open report")
            m.settled = m.reported
            m.settled_at = index
            m.entries.append(index)
        elif stype == "performance.disputed":
            m = self._milestone(contract, body, index)
            if m.reported is None or m.settled is not None:
                raise _fail(index, f"dispute of milestone {m.id} with no open report")
            m.disputed = True
            m.ever_disputed = True
            m.entries.append(index)
        elif stype == "dispute.resolved":
            m = self._milestone(contract, body, index)
            if not m.disputed or m.settled is not None:
                raise _fail(index, f"resolution of milestone {m.id} that is not disputed")
            outcome = body.get("outcome")
            if outcome not in OUTCOMES:
                raise _fail(index, f"unknown outcome {outcome!r}")
            m.settled = (
                str(outcome),
                _date(body.get("on"), index, "body.on"),
                _amount(body.get("amount"), index, "body.amount"),
            )
            m.settled_at = index
            m.disputed = False
            m.entries.append(index)
        elif stype == "milestone.overdue":
            m = self._milestone(contract, body, index)
            m.entries.append(index)
        else:  # judgment.applied
            self._judgment(contract, body, index, date)

    def _terminate(self, contract: _Contract, index: int) -> None:
        if contract.state != "registered":
            raise _fail(index, f"termination of contract {contract.id} in state {contract.state}")
        contract.state = "terminated"
        contract.state_entry = index
        for m in contract.milestones.values():
            if m.settled is None:
                m.entries.append(index)

    def _judgment(self, contract: _Contract, body: Mapping[str, Any], index: int, date: str) -> None:
        effect = body.get("effect")
        if not isinstance(effect, str):
            raise _fail(index, "body.effect is not a string")
        party = body.get("party")
        if party is not None and not isinstance(party, str):
            raise _fail(index, "body.party is not a string or null")
        if party == self.subject:
            self.judgments_against.append(index)
        if effect == "terminate":
            self._terminate(contract, index)
            return
        if body.get("milestone") is None:
            return
        m = self._milestone(contract, body, index)
        if m.settled is not None:
            raise _fail(index, f"milestone {m.id} is already settled")
        outcome: Any
        if effect == "breach":
            outcome = "failed"
            m.excused = party is not None and party == m.obligee and party != m.obligor
        else:
            outcome = body.get("outcome")
            if outcome not in OUTCOMES:
                raise _fail(index, f"unknown outcome {outcome!r}")
        on = m.reported[1] if m.reported is not None else date
        if outcome == "failed":
            amount = 0
        elif m.reported is not None:
            amount = m.reported[2]
        else:
            amount = m.amount if outcome == "fulfilled" else 0
        m.settled = (str(outcome), on, amount)
        m.settled_at = index
        m.disputed = False
        m.entries.append(index)

    # commitments ------------------------------------------------------------------------------------------

    def _commitment(self, index: int, stype: str, statement: Mapping[str, Any], body: Mapping[str, Any]) -> None:
        cid = statement["aggregate"]
        if stype == "commitment.made":
            if cid in self.commitments:
                raise _fail(index, f"commitment {cid} is made twice")
            kind = body.get("kind")
            if kind not in COMMITMENT_KINDS:
                raise _fail(index, f"unknown commitment kind {kind!r}")
            self.commitments[cid] = _Commitment(
                id=cid,
                maker=statement["actor"],
                kind=str(kind),
                deadline=_date(body.get("deadline"), index, "body.deadline"),
                entries=[index],
            )
            return
        c = self.commitments.get(cid)
        if c is None:
            if stype in _CLOCK_TYPES and statement["actor"] == self.subject:
                return
            raise _fail(index, f"{stype} for commitment {cid} not made among the entries")
        if stype in ("commitment.kept", "commitment.broken"):
            if c.outcome:
                raise _fail(index, f"commitment {cid} is already {c.outcome}")
            _date(body.get("on"), index, "body.on")
            c.outcome = "kept" if stype == "commitment.kept" else "broken"
        c.entries.append(index)


# ---------------------------------------------------------------------------------------------------------
# Figures


class _Bucket:
    def __init__(self) -> None:
        self.count = 0
        self.amount = 0
        self.entries: set[int] = set()

    def add(self, amount: int, entries: Iterable[int]) -> None:
        self.count += 1
        self.amount += amount
        self.entries.update(entries)


def _classify(contract: _Contract, m: _Milestone, as_of: str) -> str:
    if m.settled is not None:
        outcome, on, _ = m.settled
        if outcome == "fulfilled":
            return "on_time" if on <= m.due else "late"
        return outcome
    if contract.state == "terminated":
        return "terminated"
    if m.disputed:
        return "disputed"
    if m.due < as_of:
        return "overdue_open"
    return "open"


def _rate(numerator: int, denominator: int) -> int:
    return numerator * 10000 // denominator


def _figures(state: _Interpreter, subject: str, as_of: str) -> tuple[dict[str, Figure], list[OverdueMilestone]]:
    figures: dict[str, Figure] = {}

    # contracts by role and state
    roles: dict[str, set[int]] = {r: set() for r in CONTRACT_ROLES}
    role_counts = dict.fromkeys(CONTRACT_ROLES, 0)
    states: dict[str, set[int]] = {s: set() for s in CONTRACT_STATES}
    state_counts = dict.fromkeys(CONTRACT_STATES, 0)
    for c in state.contracts.values():
        if c.id in state.void_contracts:
            continue
        ms = list(c.milestones.values())
        in_roles = [
            ("party", subject in c.parties),
            ("obligor", any(m.obligor == subject for m in ms)),
            ("obligee", any(m.obligee == subject for m in ms)),
        ]
        for role, present in in_roles:
            if present:
                role_counts[role] += 1
                roles[role].add(c.terms_entry)
        st, at = c.state, c.state_entry
        if st == "registered" and ms and all(m.settled is not None for m in ms):
            st = "completed"
            at = max([c.state_entry, *(m.settled_at for m in ms)])
        state_counts[st] += 1
        states[st].add(at)
    for role in CONTRACT_ROLES:
        figures[f"contracts.{role}"] = Figure(role_counts[role], _sorted(roles[role]))
    for st in CONTRACT_STATES:
        figures[f"contracts.{st}"] = Figure(state_counts[st], _sorted(states[st]))
    ended = ("registered", "completed", "terminated")
    reached = sum(state_counts[s] for s in ended)
    if reached:
        figures["termination_rate"] = Figure(
            _rate(state_counts["terminated"], reached), _sorted(i for s in ended for i in states[s])
        )

    # milestones where the subject is the obligor
    buckets = {k: _Bucket() for k in MILESTONE_CLASSES}
    rated = _Bucket()  # D: settled or overdue open
    performed_amount = 0
    ever_disputed = _Bucket()
    reported = _Bucket()
    overdue: list[OverdueMilestone] = []
    obligee_overdue = _Bucket()
    for c in state.contracts.values():
        if c.state not in ("registered", "terminated") or c.id in state.void_contracts:
            continue
        for m in c.milestones.values():
            if (c.id, m.id) in state.void_milestones:
                continue
            cls = _classify(c, m, as_of)
            if m.obligee == subject and cls == "overdue_open":
                obligee_overdue.add(m.amount, m.entries)
            if m.obligor != subject or m.excused:
                continue
            settled_amount = m.settled[2] if m.settled is not None else m.amount
            buckets[cls].add(settled_amount, m.entries)
            if m.due <= as_of and cls != "terminated":
                buckets["due"].add(m.amount, m.entries)
            if cls in ("on_time", "late", "partial", "failed", "overdue_open"):
                rated.add(m.amount, m.entries)
                if cls in ("on_time", "late", "partial"):
                    performed_amount += min(settled_amount, m.amount)
            if m.ever_disputed:
                ever_disputed.add(m.amount, m.entries)
            if m.ever_reported or m.settled is not None:
                reported.add(m.amount, m.entries)
            if cls == "overdue_open":
                overdue.append(
                    OverdueMilestone(c.id, m.id, m.kind, m.amount, m.due, _days(as_of, m.due), _sorted(m.entries))
                )
    for key in MILESTONE_CLASSES:
        b = buckets[key]
        figures[f"milestones.{key}"] = Figure(b.count, _sorted(b.entries))
        figures[f"milestones.{key}_amount"] = Figure(b.amount, _sorted(b.entries))
    figures["milestones.ever_disputed"] = Figure(ever_disputed.count, _sorted(ever_disputed.entries))
    if rated.count:
        good = buckets["on_time"].count + buckets["late"].count
        figures["fulfilment_rate_count"] = Figure(
            (2 * good + buckets["partial"].count) * 10000 // (2 * rated.count), _sorted(rated.entries)
        )
    if rated.amount:
        figures["fulfilment_rate_amount"] = Figure(_rate(performed_amount, rated.amount), _sorted(rated.entries))
    if reported.count:
        figures["dispute_rate"] = Figure(_rate(ever_disputed.count, reported.count), _sorted(reported.entries))
    overdue.sort(key=lambda o: (o.due, o.contract, o.milestone))
    longest = max(overdue, key=lambda o: o.days, default=None)
    figures["max_days_overdue"] = Figure(longest.days, longest.entries) if longest else Figure(0)
    figures["total_days_overdue"] = Figure(sum(o.days for o in overdue), _sorted(i for o in overdue for i in o.entries))
    figures["obligee.overdue"] = Figure(obligee_overdue.count, _sorted(obligee_overdue.entries))
    figures["obligee.overdue_amount"] = Figure(obligee_overdue.amount, _sorted(obligee_overdue.entries))
    against = [i for i in state.judgments_against if i not in state.void_judgments]
    figures["judgments.against"] = Figure(len(against), _sorted(against))

    # commitments made by the subject
    by: dict[tuple[str, str], _Bucket] = {(k, o): _Bucket() for k in COMMITMENT_KINDS for o in COMMITMENT_OUTCOMES}
    for cm in state.commitments.values():
        if cm.maker != subject or cm.id in state.void_commitments:
            continue
        outcome = cm.outcome or ("overdue" if cm.deadline < as_of else "open")
        by[(cm.kind, outcome)].add(0, cm.entries)
    for o in COMMITMENT_OUTCOMES:
        total = _Bucket()
        for k in COMMITMENT_KINDS:
            b = by[(k, o)]
            figures[f"commitments.{k}.{o}"] = Figure(b.count, _sorted(b.entries))
            total.count += b.count
            total.entries.update(b.entries)
        figures[f"commitments.{o}"] = Figure(total.count, _sorted(total.entries))
    under_objection = {e for e in state.pending.values() if e in state.records}
    for key, records in (
        ("records.under_objection", under_objection),
        ("records.corrected", state.corrected),
        ("records.repaired", state.repaired),
        ("records.publicity_ended", state.publicity_ended),
    ):
        if records:
            figures[key] = Figure(len(records), _sorted(records))
    return figures, overdue


def _statement(entry: Any, subject: str) -> tuple[int, Any, Mapping[str, Any], str]:
    if not isinstance(entry, Mapping):
        raise FormatError("an entry is not an object")
    index = entry.get("index")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise FormatError(f"entry index is not a non-negative integer: {index!r}")
    links = entry.get("links")
    if not isinstance(links, Mapping) or subject not in links:
        raise _fail(index, f"does not concern subject {subject}")
    statement = entry.get("statement")
    if not isinstance(statement, Mapping):
        raise _fail(index, "statement is not an object")
    for key in ("type", "actor", "aggregate", "time"):
        if not isinstance(statement.get(key), str):
            raise _fail(index, f"statement.{key} is not a string")
    if not isinstance(statement.get("body"), Mapping):
        raise _fail(index, "statement.body is not an object")
    match = _TIME.fullmatch(statement["time"])
    if match is None:
        raise _fail(index, f"statement.time is not a time: {statement['time']!r}")
    date = _date(match.group(1), index, "statement.time")
    return index, links[subject], statement, date


def compute_history(subject: str, entries: Iterable[Mapping[str, Any]], *, as_of: str) -> History:
    """Compute ``subject``'s figures as of the date ``as_of`` from the entries concerning it, in log order.

    ``entries`` must be the subject's whole chain up to some point: the first entry's ``links[subject]`` is
    null and each later one links to the one before it. An entry counts when its statement date is on or
    before ``as_of`` and no earlier entry of the same aggregate was left out (docs/grading.md, "Figures").

    Raises:
        FormatError: ``as_of`` is not a date; an entry is not an object of the entry shape, does not concern
            ``subject``, breaks the subject chain, has an unknown statement type, or a body that cannot be
            interpreted (missing or ill-typed members, unknown milestone, statement about a contract or
            commitment whose creating statement is not among the counted entries).
    """
    if not isinstance(as_of, str) or not _DATE.fullmatch(as_of):
        raise FormatError(f"as_of is not a date YYYY-MM-DD: {as_of!r}")
    try:
        datetime.date.fromisoformat(as_of)
    except ValueError as e:
        raise FormatError(f"as_of is not a valid date: {as_of!r}") from e
    interpreter = _Interpreter(subject)
    counted: list[int] = []
    excluded: set[str] = set()
    previous: int | None = None
    for entry in entries:
        index, link, statement, date = _statement(entry, subject)
        if previous is not None and index <= previous:
            raise _fail(index, f"entries out of log order (after entry {previous})")
        if link != previous:
            raise _fail(index, f"links[{subject}] is {link!r}, the previous entry concerning it is {previous!r}")
        previous = index
        aggregate = statement["aggregate"]
        if date > as_of or aggregate in excluded:
            excluded.add(aggregate)
            continue
        interpreter.apply(index, statement, date)
        counted.append(index)
    figures, overdue = _figures(interpreter, subject, as_of)
    arrears = tuple(o for o in overdue if o.kind == "payment" and interpreter.kind in ARREARS_KINDS)
    figures["arrears.count"] = Figure(len(arrears), _sorted(i for o in arrears for i in o.entries))
    figures["arrears.amount"] = Figure(sum(o.amount for o in arrears), figures["arrears.count"].entries)
    return History(
        subject=subject,
        as_of=as_of,
        kind=interpreter.kind,
        entries=tuple(counted),
        figures=figures,
        overdue=tuple(overdue),
        arrears=arrears,
    )
