"""Judgments and arbitration awards: import (one, or in bulk from CSV or JSON Lines), matching to contracts, the
review queue; and the case index every casework module reads.

Importing a judgment records it (``judgment.recorded``, operator-signed); a judgment matched to a contract is
applied to it at once (``judgment.applied``). Matching: by the contract id the row gives; else by parties,
contract number and dates (one registered contract whose parties include every party of the judgment, whose
number is the row's ``contract_number`` and that was signed on or before the decision). Judgments with no such
contract, or more than one, wait in the review queue until the operator links them (``judgment.linked``).

The **case index** (tables ``case_index`` and ``case_meta``) is derived from the log: ``sync`` reads the entries
appended since its last position and indexes judgments, objections, repairs and negative records, so cases
opened through any route (the HTTP API's generic statement route included) are found.
"""

from __future__ import annotations

import csv
import io
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import BigInteger, Column, Engine, MetaData, Table, Text, select, update

from ledger.errors import LedgerError, MalformedInput, NotFound, RuleRejected
from ledger.projections.tables import make_engine, upsert
from ledger.service import Ledger, Receipt
from verifier.errors import FormatError, IdentifierError
from verifier.identity import check_subject_id
from verifier.rules import ContractState, JudgmentState
from verifier.rules.common import local_date
from verifier.rules.repair import record_kind
from verifier.statement import JUDGMENT_RECORD_EFFECTS, JUDGMENT_RECORD_MEMBERS, check_date, validate_body

__all__ = [
    "CASE_INDEX",
    "CaseRow",
    "ImportReport",
    "RowResult",
    "case",
    "cases",
    "casework_engine",
    "import_judgment",
    "import_judgments",
    "link_judgment",
    "match_contracts",
    "negative_records",
    "parse_judgment",
    "read_rows",
    "review_queue",
    "sync",
]

METADATA = MetaData()
CASE_INDEX = Table(
    "case_index",
    METADATA,
    Column("aggregate", Text, primary_key=True),
    Column("kind", Text, nullable=False),  # judgment, objection, repair
    Column("subject", Text),  # objector or repair subject; null for judgments
    Column("entry", BigInteger),  # the entry an objection or repair is about
    Column("ref", Text),  # judgments: court "|" case number
    Column("status", Text, nullable=False),
    Column("opened_at", BigInteger, nullable=False),
    Column("opened_on", Text, nullable=False),  # date (UTC+8) of the opening statement
    Column("decided_at", BigInteger),
    Column("decided_on", Text),
    Column("data", Text, nullable=False),  # JSON: the opening body, then decision details
)
CASE_RECORDS = Table(
    "case_records",
    METADATA,
    Column("entry", BigInteger, primary_key=True),
    Column("subject", Text, primary_key=True),
    Column("kind", Text, nullable=False),  # verifier.rules.repair.RECORD_KINDS
    Column("on", Text, nullable=False),  # the record's date (UTC+8)
    Column("amount", BigInteger, nullable=False),  # the milestone amount, 0 for others
)
CASE_META = Table(
    "case_meta",
    METADATA,
    Column("key", Text, primary_key=True),
    Column("value", BigInteger, nullable=False),
)

_ENGINES: weakref.WeakKeyDictionary[Ledger, Engine] = weakref.WeakKeyDictionary()


def casework_engine(ledger: Ledger) -> Engine:
    """The engine on ``ledger``'s database for the casework tables (created on first use)."""
    engine = _ENGINES.get(ledger)
    if engine is None:
        engine = make_engine(ledger.settings)
        METADATA.create_all(engine)
        _ENGINES[ledger] = engine
    return engine


@dataclass(frozen=True)
class CaseRow:
    """One indexed case (a row of ``case_index``)."""

    aggregate: str
    kind: str
    subject: str | None
    entry: int | None
    ref: str | None
    status: str
    opened_at: int
    opened_on: str
    decided_at: int | None
    decided_on: str | None
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The case as a JSON-ready object."""
        return {
            "aggregate": self.aggregate,
            "kind": self.kind,
            "subject": self.subject,
            "entry": self.entry,
            "status": self.status,
            "opened_at": self.opened_at,
            "opened_on": self.opened_on,
            "decided_at": self.decided_at,
            "decided_on": self.decided_on,
            "body": self.data,
        }


_OPENING = {
    "judgment.recorded": "judgment",
    "objection.filed": "objection",
    "repair.applied": "repair",
    "repair.publicity_ended": "repair",
}
_DECISIONS = {
    "judgment.linked": "matched",
    "objection.upheld": "upheld",
    "objection.rejected": "rejected",
    "repair.approved": "approved",
    "repair.rejected": "rejected",
}


def sync(ledger: Ledger) -> int:
    """Index the entries appended since the last sync; return the log size now indexed.

    Raises:
        LedgerError: the store cannot be read.
    """
    engine = casework_engine(ledger)
    with engine.connect() as conn:
        row = conn.execute(select(CASE_META.c.value).where(CASE_META.c.key == "position")).first()
    position = int(row[0]) if row else 0
    size = ledger.size()
    if position >= size:
        return size
    with engine.begin() as conn:
        for index, data in ledger.entries(position, size):
            entry = orjson.loads(data)
            _index_entry(ledger, conn, index, entry)
        upsert(conn, CASE_META, [{"key": "position", "value": size}], ["key"])
    return size


def _index_entry(ledger: Ledger, conn: Any, index: int, entry: Mapping[str, Any]) -> None:
    st = entry["statement"]
    stype, body, aggregate = st["type"], st["body"], st["aggregate"]
    on = local_date(st["time"]).isoformat()
    kind = _OPENING.get(stype)
    if kind is not None:
        subject = st["actor"] if stype != "repair.publicity_ended" else body["subject"]
        status = {"judgment.recorded": "unmatched", "objection.filed": "filed", "repair.applied": "applied"}.get(
            stype, "ended"
        )
        ref = None
        if stype == "judgment.recorded":
            subject = None
            ref = f"{body['court']}|{body['case_number']}"
            status = "matched" if body["contract"] is not None else "unmatched"
        row = {
            "aggregate": aggregate,
            "kind": kind,
            "subject": subject,
            "entry": body.get("entry"),
            "ref": ref,
            "status": status,
            "opened_at": index,
            "opened_on": on,
            "decided_at": index if status == "ended" else None,
            "decided_on": on if status == "ended" else None,
            "data": orjson.dumps(dict(body)).decode(),
        }
        upsert(conn, CASE_INDEX, [row], ["aggregate"])
    elif stype in _DECISIONS or stype == "judgment.applied":
        target = body["judgment"] if stype == "judgment.applied" else aggregate
        found = conn.execute(select(CASE_INDEX.c.data).where(CASE_INDEX.c.aggregate == target)).first()
        if found is not None:
            data = orjson.loads(found[0])
            if stype == "judgment.linked":
                data["contract"] = body["contract"]
            elif stype == "judgment.applied":
                data["applied_at"] = index
            else:
                data["decision"] = dict(body)
            values: dict[str, Any] = {"data": orjson.dumps(data).decode()}
            if stype != "judgment.applied":
                values.update(status=_DECISIONS[stype], decided_at=index, decided_on=on)
            conn.execute(update(CASE_INDEX).where(CASE_INDEX.c.aggregate == target).values(**values))
    subjects = list(entry["links"])
    if stype in ("milestone.overdue", "performance.confirmed", "dispute.resolved", "judgment.applied") or (
        stype in ("commitment.broken", "commitment.overdue")
    ):
        state = ledger.aggregate(aggregate)[1]
        amount = 0
        if isinstance(state, ContractState) and isinstance(body.get("milestone"), str):
            m = state.milestones.get(body["milestone"])
            amount = m.amount_due if m is not None else 0
        for s in subjects:
            rk = record_kind(st, s, lambda a: state if a == aggregate else ledger.aggregate(a)[1])
            if rk is not None:
                upsert(
                    conn,
                    CASE_RECORDS,
                    [{"entry": index, "subject": s, "kind": rk, "on": on, "amount": amount}],
                    ["entry", "subject"],
                )


def _row(r: Any) -> CaseRow:
    return CaseRow(
        aggregate=r.aggregate,
        kind=r.kind,
        subject=r.subject,
        entry=r.entry,
        ref=r.ref,
        status=r.status,
        opened_at=int(r.opened_at),
        opened_on=r.opened_on,
        decided_at=None if r.decided_at is None else int(r.decided_at),
        decided_on=r.decided_on,
        data=orjson.loads(r.data),
    )


def cases(
    ledger: Ledger, kind: str, *, status: str | None = None, subject: str | None = None, entry: int | None = None
) -> list[CaseRow]:
    """The indexed cases of ``kind`` (judgment, objection, repair), oldest first, optionally filtered."""
    sync(ledger)
    q = select(CASE_INDEX).where(CASE_INDEX.c.kind == kind)
    if status is not None:
        q = q.where(CASE_INDEX.c.status == status)
    if subject is not None:
        q = q.where(CASE_INDEX.c.subject == subject)
    if entry is not None:
        q = q.where(CASE_INDEX.c.entry == entry)
    with casework_engine(ledger).connect() as conn:
        return [_row(r) for r in conn.execute(q.order_by(CASE_INDEX.c.opened_at))]


def case(ledger: Ledger, aggregate: str) -> CaseRow:
    """One indexed case.

    Raises:
        NotFound: no judgment, objection or repair has that aggregate id.
    """
    sync(ledger)
    with casework_engine(ledger).connect() as conn:
        r = conn.execute(select(CASE_INDEX).where(CASE_INDEX.c.aggregate == aggregate)).first()
    if r is None:
        raise NotFound(f"no case {aggregate}", code="no_case")
    return _row(r)


def negative_records(ledger: Ledger, subject: str | None = None) -> list[dict[str, Any]]:
    """Negative records (docs/format-judgments.md, Repairs) as ``{entry, subject, kind, on, amount}``, by entry."""
    sync(ledger)
    q = select(CASE_RECORDS)
    if subject is not None:
        q = q.where(CASE_RECORDS.c.subject == subject)
    with casework_engine(ledger).connect() as conn:
        rows = conn.execute(q.order_by(CASE_RECORDS.c.entry, CASE_RECORDS.c.subject)).all()
    return [
        {"entry": int(r.entry), "subject": r.subject, "kind": r.kind, "on": r.on, "amount": int(r.amount)} for r in rows
    ]


# -- import -------------------------------------------------------------------------------------------------

_FIELDS = JUDGMENT_RECORD_MEMBERS


def _subject_id(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise MalformedInput(f"{what} must be a credit code or pseudonym", code="invalid_credit_code")
    try:
        return check_subject_id(value.strip())
    except IdentifierError as e:
        raise MalformedInput(f"{what}: {e}", code="invalid_credit_code", value=value) from None


def _opt(value: object) -> Any:
    return None if value in (None, "") else value


def parse_judgment(row: Mapping[str, Any]) -> dict[str, Any]:
    """The ``judgment.recorded`` body of one import row (a JSON object or a CSV row of the same columns).

    ``parties`` is an array, or a string of subject ids separated by ``;``; empty strings stand for null.

    Raises:
        MalformedInput: ``invalid_credit_code``, ``bad_date``, ``missing_field`` or ``malformed`` (another bad
            value), with the reason.
    """
    missing = [f for f in ("court", "case_number", "decided_on", "parties") if not row.get(f)]
    if missing:
        raise MalformedInput("missing " + ", ".join(missing), code="missing_field")
    raw_parties = row["parties"]
    if isinstance(raw_parties, str):
        raw_parties = [p for p in raw_parties.replace(",", ";").split(";") if p.strip()]
    if not isinstance(raw_parties, list) or not raw_parties:
        raise MalformedInput("parties must list subject ids", code="malformed")
    parties = [_subject_id(p, "parties") for p in raw_parties]
    try:
        check_date(row["decided_on"], what="decided_on")
    except FormatError as e:
        raise MalformedInput(str(e), code="bad_date") from None
    party = _opt(row.get("party"))
    body = {
        "court": str(row["court"]).strip(),
        "case_number": str(row["case_number"]).strip(),
        "kind": _opt(row.get("kind")) or "judgment",
        "decided_on": row["decided_on"],
        "parties": parties,
        "contract": _opt(row.get("contract")),
        "contract_number": str(row.get("contract_number") or "").strip(),
        "summary_sha256": row.get("summary_sha256") or "",
        "effect": _opt(row.get("effect")) or "none",
        "party": None if party is None else _subject_id(party, "party"),
        "milestone": _opt(row.get("milestone")),
        "outcome": _opt(row.get("outcome")),
    }
    if body["effect"] not in JUDGMENT_RECORD_EFFECTS:
        raise MalformedInput(f"effect must be one of {', '.join(JUDGMENT_RECORD_EFFECTS)}", code="malformed")
    try:
        validate_body("judgment.recorded", body)
    except FormatError as e:
        raise MalformedInput(str(e), code="malformed") from None
    return body


def _contract_number(state: ContractState) -> str:
    return str(state.terms.get("number", ""))


def match_contracts(ledger: Ledger, body: Mapping[str, Any]) -> list[str]:
    """Registered contracts a judgment body could be about: parties include all of the judgment's, number equal to
    ``contract_number`` (when given), signed on or before ``decided_on``. Sorted ids."""
    from ledger.objections import subject_entries

    parties = list(body["parties"])
    found: set[str] = set()
    for entry in subject_entries(ledger, parties[0]):
        st = entry["statement"]
        if st["type"] not in ("contract.proposed", "contract.amended"):
            continue
        found.add(st["aggregate"])
    out = []
    for cid in sorted(found):
        state = ledger.aggregate(cid)[1]
        if not isinstance(state, ContractState) or state.status != "registered" or state.completed:
            continue
        if not set(parties) <= set(state.parties):
            continue
        if body["contract_number"] and _contract_number(state) != body["contract_number"]:
            continue
        if str(state.terms.get("signed_on", "")) > body["decided_on"]:
            continue
        out.append(cid)
    return out


@dataclass
class RowResult:
    """What became of one import row: ``status`` ``applied``, ``matched``, ``review`` or ``refused``."""

    row: int
    status: str
    judgment: str | None = None
    contract: str | None = None
    code: str | None = None
    reason: str | None = None
    candidates: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The row result as a JSON-ready object."""
        return {
            "row": self.row,
            "status": self.status,
            "judgment": self.judgment,
            "contract": self.contract,
            "code": self.code,
            "reason": self.reason,
            "candidates": self.candidates,
        }


@dataclass
class ImportReport:
    """The per-row report of an import: good rows kept, bad rows refused with the reason."""

    rows: list[RowResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        """Rows with that status."""
        return sum(1 for r in self.rows if r.status == status)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready object with totals."""
        totals = {s: self.count(s) for s in ("applied", "matched", "review", "refused")}
        return {"totals": totals, "rows": [r.to_dict() for r in self.rows]}


def _apply(ledger: Ledger, judgment: str, contract: str, body: Mapping[str, Any]) -> Receipt | None:
    if body["effect"] == "none":
        return None
    applied = {k: body[k] for k in ("effect", "party", "milestone", "outcome")}
    return ledger.submit_as_platform("operator", "judgment.applied", contract, {"judgment": judgment, **applied})


def _duplicate(ledger: Ledger, body: Mapping[str, Any]) -> bool:
    ref = f"{body['court']}|{body['case_number']}"
    sync(ledger)
    with casework_engine(ledger).connect() as conn:
        return conn.execute(select(CASE_INDEX.c.aggregate).where(CASE_INDEX.c.ref == ref)).first() is not None


def import_judgment(ledger: Ledger, row: Mapping[str, Any], number: int = 1) -> RowResult:
    """Import one judgment row: record it, match it and, when matched, apply it to its contract.

    Never raises for a bad row: the result says ``refused`` with the code (``invalid_credit_code``,
    ``bad_date``, ``unknown_contract``, ``not_registered``, ``duplicate``, ...) and the reason.
    """
    try:
        body = parse_judgment(row)
        if _duplicate(ledger, body):
            raise RuleRejected(f"{body['court']} {body['case_number']} was imported before", code="duplicate")
        candidates: list[str] = []
        if body["contract"] is not None:
            if not isinstance(ledger.aggregate(body["contract"])[1], ContractState):
                raise RuleRejected(f"no contract {body['contract']} in the log", code="unknown_contract")
        else:
            candidates = match_contracts(ledger, body)
            if len(candidates) == 1:
                body["contract"] = candidates[0]
        judgment = str(uuid.uuid4())
        ledger.submit_as_platform("operator", "judgment.recorded", judgment, body)
    except LedgerError as e:
        return RowResult(number, "refused", code=e.code, reason=str(e))
    if body["contract"] is None:
        return RowResult(number, "review", judgment, candidates=candidates)
    try:
        receipt = _apply(ledger, judgment, body["contract"], body)
    except LedgerError as e:
        return RowResult(number, "matched", judgment, body["contract"], code=e.code, reason=f"not applied: {e}")
    return RowResult(number, "applied" if receipt else "matched", judgment, body["contract"])


def read_rows(data: bytes, fmt: str | None = None) -> Iterator[dict[str, Any]]:
    """Rows of a CSV (header line with the column names) or JSON Lines file; ``fmt`` ``csv`` or ``jsonl``
    (default: JSON Lines when the first non-blank byte is ``{``).

    Raises:
        MalformedInput: a JSON line is not an object, or the file is not UTF-8.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedInput("the file is not UTF-8", code="malformed") from None
    if fmt is None:
        fmt = "jsonl" if text.lstrip().startswith("{") else "csv"
    if fmt == "csv":
        yield from (dict(r) for r in csv.DictReader(io.StringIO(text)))
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            yield {"__error__": f"line {n} is not a JSON object"}
            continue
        yield obj


def import_judgments(
    ledger: Ledger, rows: Iterable[Mapping[str, Any]], progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Import rows in order (each as ``import_judgment``); ``progress(n)`` is called after each row."""
    report = ImportReport()
    for n, row in enumerate(rows, 1):
        if "__error__" in row:
            report.rows.append(RowResult(n, "refused", code="malformed", reason=str(row["__error__"])))
        else:
            report.rows.append(import_judgment(ledger, row, n))
        if progress is not None:
            progress(n)
    return report


def review_queue(ledger: Ledger) -> list[dict[str, Any]]:
    """Unmatched judgments waiting for the operator, each with the contracts it could be about now."""
    out = []
    for c in cases(ledger, "judgment", status="unmatched"):
        body = c.data
        out.append({**c.to_dict(), "candidates": match_contracts(ledger, body)})
    return out


def link_judgment(ledger: Ledger, judgment: str, contract: str) -> list[Receipt]:
    """Resolve a judgment of the review queue: link it to ``contract`` and apply it.

    Raises:
        NotFound: no such judgment. RuleRejected: already linked, unknown contract, party not a party to it.
    """
    state = ledger.aggregate(judgment)[1]
    if not isinstance(state, JudgmentState):
        raise NotFound(f"no judgment {judgment}", code="no_judgment")
    receipts = [ledger.submit_as_platform("operator", "judgment.linked", judgment, {"contract": contract})]
    body = {"effect": state.effect, "party": state.party, "milestone": state.milestone, "outcome": state.outcome}
    applied = _apply(ledger, judgment, contract, body)
    if applied is not None:
        receipts.append(applied)
    return receipts


def judgment_rows_from_text(data: bytes) -> Sequence[dict[str, Any]]:
    """All rows of an uploaded file (see read_rows)."""
    return list(read_rows(data))
