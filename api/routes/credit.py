"""Credit histories, grades, indicators and verifiable credit reports, from the projections (docs/reports.md).

The public sees figures, grades, counts and indicators with subject ids masked (``mask_subject_id``) and amounts
hidden unless the contract discloses them; a role token (registration authority, operator, auditor) sees
everything, and its reads are logged. A credit report carries the subject's entries as they are in the log, so it
is given in full: to anyone for an organisation, to a role only for a person (a pseudonym).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import column, func, select, table

from api.deps import LedgerDep, ProjectionsDep, ViewerDep
from api.errors import ApiError
from api.responses import READ, errors
from api.views import check_date
from ledger.errors import MalformedInput, NotFound
from ledger.projections import Projections
from ledger.projections.tables import COMMITMENTS, CONTRACTS, SUBJECT_ENTRIES, SUBJECT_HISTORY
from ledger.reports import build_report, render_html
from ledger.service import Ledger
from verifier.errors import FormatError
from verifier.grading import Grade
from verifier.history import History
from verifier.identity import check_subject_id, is_pseudonym, mask_subject_id

router = APIRouter(tags=["credit"])

Grouping = Literal["month", "type", "month_type"]
GradeLetter = Literal["A", "B", "C", "D"]
AsOf = Annotated[
    str | None, Query(description="Date YYYY-MM-DD the figures are computed for (default today, China time).")
]

_SUBJECTS = table("lvyue_subjects", column("subject"), column("kind"), column("registered_at"))
CONTRACT_ENTRY_TYPES = (
    "contract.",
    "performance.",
    "dispute.",
    "milestone.",
    "judgment.",
)


# -- models -----------------------------------------------------------------------------------------------------


class FigureOut(BaseModel):
    """One figure and the entries behind it (``value`` null: hidden from the public, an amount)."""

    value: int | None
    entries: list[int]


class MilestoneDueOut(BaseModel):
    """An overdue milestone the subject owes (``overdue``) or is owed (``arrears``); ``amount`` null in the public
    view unless the contract discloses amounts."""

    contract: str
    milestone: str
    kind: str
    amount: int | None
    due: str
    days: int
    entries: list[int]


class HistoryOut(BaseModel):
    """A subject's credit figures as of a date (docs/grading.md "Figures"), each with its entry indexes."""

    view: Literal["public", "full"]
    subject: str
    as_of: str
    kind: str | None
    entries: list[int] = Field(description="Every entry the figures were computed from.")
    figures: dict[str, FigureOut]
    overdue: list[MilestoneDueOut]
    arrears: list[MilestoneDueOut]


class FactorOut(BaseModel):
    """One term of the score: its points, the entries that gave rise to it and an explanation."""

    name: str
    points: int
    entries: list[int]
    explanation: str


class GradeOut(BaseModel):
    """A subject's score (0..1000) and grade (A..D) as of a date under the operator's grading rules."""

    view: Literal["public", "full"]
    subject: str
    as_of: str
    score: int
    grade: str
    factors: list[FactorOut]


class SubjectGradeOut(BaseModel):
    """A subject in the list: its stored grade and the counts behind checks (``arrears_amount`` null in the
    public view)."""

    subject: str
    kind: str | None
    grade: str
    score: int
    overdue_open: int
    commitments_broken: int
    arrears_amount: int | None
    as_of: str


class SubjectListOut(BaseModel):
    """Subjects with stored grades, lowest score first (or as ordered), optionally of one grade."""

    view: Literal["public", "full"]
    grade: str | None
    total: int = Field(description="How many subjects match, before limit and offset.")
    subjects: list[SubjectGradeOut]


class IndicatorOut(BaseModel):
    """Platform indicators of one group (docs/reports.md "Indicators"): counters, and rates in basis points
    (null when the denominator is 0). ``contract_type`` "" holds subjects and commitments."""

    month: str | None = None
    contract_type: str | None = None
    contracts_proposed: int
    contracts_registered: int
    contracts_terminated: int
    performances_reported: int
    performances_confirmed: int
    performances_disputed: int
    milestones_settled: int
    milestones_on_time: int
    subjects_registered: int
    subjects_committed: int
    commitments_made: int
    commitments_kept: int
    commitments_broken: int
    registration_rate: int | None
    co_confirmation_rate: int | None
    on_time_rate: int | None
    commitment_fulfilment_rate: int | None
    commitment_coverage: int | None


class IndicatorsOut(BaseModel):
    """The indicators grouped ``by`` month, contract type or both."""

    by: Grouping
    rows: list[IndicatorOut]


class ReportEntryOut(BaseModel):
    """An entry of a report: its bytes (base64) and its RFC 9162 inclusion proof against the checkpoint."""

    index: int
    entry: str
    proof: list[str]


class ReportOut(BaseModel):
    """A verifiable credit report (``lvyue-report/v1``, docs/reports.md); check it with
    ``verifier.report.check_report`` or ``lvyue-verify report FILE --log-key KEY``."""

    format: Literal["lvyue-report/v1"]
    origin: str
    log_key: str
    subject: str
    as_of: str
    generated: str
    rules: dict[str, int]
    history: dict[str, Any]
    grade: dict[str, Any]
    checkpoint: str
    entries: list[ReportEntryOut]


# -- helpers shared with the portal --------------------------------------------------------------------------------


def registered_subject(ledger: Ledger, subject: str) -> tuple[str, int]:
    """(kind, registering index) of ``subject``.

    Raises:
        MalformedInput: ``subject`` is neither a credit code nor a pseudonym.
        NotFound: it is not registered.
    """
    try:
        check_subject_id(subject)
    except FormatError as e:
        raise MalformedInput(str(e), code="malformed") from e
    found = ledger.store.subject(subject)
    if found is None:
        raise NotFound(f"{mask_subject_id(subject)} is not registered", code="unknown_subject")
    return found


def shown(subject: str, full: bool) -> str:
    """A subject id as a viewer sees it: whole for a role, masked for the public."""
    return subject if full else mask_subject_id(subject)


def hidden_figure(key: str) -> bool:
    """True for figures that are amounts (hidden from the public)."""
    return key.endswith("amount") and "rate" not in key


def disclosed(projections: Projections, contract_ids: set[str]) -> set[str]:
    """Which of ``contract_ids`` disclose their amounts (one query)."""
    if not contract_ids:
        return set()
    with projections.engine.connect() as conn:
        rows = conn.execute(
            select(CONTRACTS.c.contract, CONTRACTS.c.view).where(CONTRACTS.c.contract.in_(contract_ids))
        )
        return {str(c) for c, v in rows if orjson.loads(v)["terms"].get("disclose_amount")}


def history_out(projections: Projections, history: History, full: bool) -> HistoryOut:
    """The history as the viewer may see it."""
    d = history.to_dict()
    ids = {o["contract"] for o in d["overdue"]} | {o["contract"] for o in d["arrears"]}
    open_ids = ids if full else disclosed(projections, ids)

    def due(items: list[dict[str, Any]]) -> list[MilestoneDueOut]:
        return [MilestoneDueOut(**{**o, "amount": o["amount"] if o["contract"] in open_ids else None}) for o in items]

    return HistoryOut(
        view="full" if full else "public",
        subject=shown(history.subject, full),
        as_of=history.as_of,
        kind=history.kind,
        entries=list(history.entries),
        figures={
            k: FigureOut(value=None if not full and hidden_figure(k) else f["value"], entries=f["entries"])
            for k, f in d["figures"].items()
        },
        overdue=due(d["overdue"]),
        arrears=due(d["arrears"]),
    )


def grade_out(subject: str, as_of: str, graded: Grade, full: bool) -> GradeOut:
    """The grade as the viewer may see it (the subject masked for the public)."""
    g = graded.to_dict()
    return GradeOut(
        view="full" if full else "public",
        subject=shown(subject, full),
        as_of=as_of,
        score=g["score"],
        grade=g["grade"],
        factors=[FactorOut(**f) for f in g["factors"]],
    )


def list_subjects(
    projections: Projections,
    *,
    grade: str | None = None,
    prefix: str | None = None,
    order: Literal["score", "-score", "subject"] = "score",
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """(matching count, rows) of the stored histories of registered subjects, with their kind."""
    h = SUBJECT_HISTORY
    cond = [h.c.as_of != ""]
    if grade is not None:
        cond.append(h.c.grade == grade)
    if prefix:
        cond.append(h.c.subject.startswith(prefix, autoescape=True))
    base = select(h).select_from(h.join(_SUBJECTS, _SUBJECTS.c.subject == h.c.subject)).where(*cond)
    ordering = {
        "score": (h.c.score, h.c.subject),
        "-score": (h.c.score.desc(), h.c.subject),
        "subject": (h.c.subject,),
    }[order]
    q = (
        select(
            h.c.subject,
            _SUBJECTS.c.kind,
            h.c.grade,
            h.c.score,
            h.c.overdue_open,
            h.c.commitments_broken,
            h.c.arrears_amount,
            h.c.as_of,
        )
        .select_from(h.join(_SUBJECTS, _SUBJECTS.c.subject == h.c.subject))
        .where(*cond)
        .order_by(*ordering)
        .limit(limit)
        .offset(offset)
    )
    with projections.engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(base.subquery())).scalar_one())
        rows = [dict(r._mapping) for r in conn.execute(q)]
    return total, rows


def grade_distribution(projections: Projections) -> dict[str, int]:
    """How many subjects have each grade (stored histories of registered subjects)."""
    h = SUBJECT_HISTORY
    q = (
        select(h.c.grade, func.count())
        .select_from(h.join(_SUBJECTS, _SUBJECTS.c.subject == h.c.subject))
        .where(h.c.as_of != "")
        .group_by(h.c.grade)
    )
    with projections.engine.connect() as conn:
        found = {str(g): int(n) for g, n in conn.execute(q)}
    return {g: found.get(g, 0) for g in ("A", "B", "C", "D")}


def subject_entry_rows(projections: Projections, subject: str) -> list[dict[str, Any]]:
    """The applied entries concerning ``subject``: ``{"idx", "type", "aggregate"}``, in log order."""
    e = SUBJECT_ENTRIES
    q = select(e.c.idx, e.c.type, e.c.aggregate).where(e.c.subject == subject).order_by(e.c.idx)
    with projections.engine.connect() as conn:
        return [{"idx": int(r.idx), "type": str(r.type), "aggregate": str(r.aggregate)} for r in conn.execute(q)]


def subject_contracts(projections: Projections, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The contract views of the contracts among ``entries``' aggregates (one query), oldest first."""
    ids = {r["aggregate"] for r in entries if r["type"].startswith(CONTRACT_ENTRY_TYPES)}
    if not ids:
        return []
    with projections.engine.connect() as conn:
        rows = conn.execute(
            select(CONTRACTS.c.view).where(CONTRACTS.c.contract.in_(ids)).order_by(CONTRACTS.c.created_at)
        )
        return [orjson.loads(v) for (v,) in rows]


def subject_commitments(projections: Projections, subject: str) -> list[dict[str, Any]]:
    """The commitment views of the commitments ``subject`` made (one query), oldest first."""
    with projections.engine.connect() as conn:
        rows = conn.execute(
            select(COMMITMENTS.c.view).where(COMMITMENTS.c.maker == subject).order_by(COMMITMENTS.c.created_at)
        )
        return [orjson.loads(v) for (v,) in rows]


def _reportable(ledger: Ledger, subject: str, full: bool) -> None:
    registered_subject(ledger, subject)
    if is_pseudonym(subject) and not full:
        raise ApiError(403, "a person's credit report needs a role token", code="forbidden")


# -- routes -------------------------------------------------------------------------------------------------------


@router.get("/subjects/{subject}/history", response_model=HistoryOut, responses=errors(*READ, 404))
def get_history(
    subject: str, ledger: LedgerDep, projections: ProjectionsDep, viewer: ViewerDep, as_of: AsOf = None
) -> HistoryOut:
    """The subject's credit figures as of ``as_of`` with the entry indexes behind each (400 ``bad_date``, 404
    ``unknown_subject``). The public sees the id masked and amounts only of contracts that disclose them."""
    registered_subject(ledger, subject)
    date = check_date(as_of) if as_of is not None else projections.clock()
    return history_out(projections, projections.history(subject, date), viewer.full)


@router.get("/subjects/{subject}/grade", response_model=GradeOut, responses=errors(*READ, 404))
def get_grade(
    subject: str, ledger: LedgerDep, projections: ProjectionsDep, viewer: ViewerDep, as_of: AsOf = None
) -> GradeOut:
    """The subject's score, grade and the factors behind it, each with its entries, as of ``as_of``."""
    registered_subject(ledger, subject)
    date = check_date(as_of) if as_of is not None else projections.clock()
    return grade_out(subject, date, projections.grade(subject, date), viewer.full)


@router.get(
    "/subjects/{subject}/report",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": ReportOut, "description": "The report."}, **errors(*READ, 403, 404)},
)
def get_report(
    subject: str, ledger: LedgerDep, projections: ProjectionsDep, viewer: ViewerDep, as_of: AsOf = None
) -> JSONResponse:
    """The subject's verifiable credit report (``lvyue-report/v1``): figures, grade, the rules, the latest
    checkpoint and every entry about the subject with its inclusion proof. A person's needs a role token (403)."""
    _reportable(ledger, subject, viewer.full)
    return JSONResponse(build_report(ledger, projections, subject, as_of))


@router.get(
    "/subjects/{subject}/report.html",
    response_class=HTMLResponse,
    responses=errors(*READ, 403, 404),
)
def get_report_html(
    subject: str, ledger: LedgerDep, projections: ProjectionsDep, viewer: ViewerDep, as_of: AsOf = None
) -> HTMLResponse:
    """The same report rendered for people (Chinese labels, a chart of the subject's milestones)."""
    _reportable(ledger, subject, viewer.full)
    return HTMLResponse(render_html(build_report(ledger, projections, subject, as_of)))


@router.get("/subjects", response_model=SubjectListOut, responses=errors(*READ))
def get_subjects(
    projections: ProjectionsDep,
    viewer: ViewerDep,
    grade: Annotated[GradeLetter | None, Query(description="Only subjects of this grade.")] = None,
    q: Annotated[
        str | None,
        Query(description="A subject id; with a role token, any prefix of one.", max_length=40),
    ] = None,
    order: Annotated[Literal["score", "-score", "subject"], Query(description="Sort order.")] = "score",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SubjectListOut:
    """Registered subjects with their stored grades, lowest score first. The public sees ids masked, no arrears
    amounts, and searches by a whole subject id only."""
    full = viewer.full
    prefix = q.strip() if q else None
    if prefix and not full:
        try:
            check_subject_id(prefix)
        except FormatError as e:
            raise MalformedInput("the public searches by a whole subject id", code="malformed") from e
    total, rows = list_subjects(projections, grade=grade, prefix=prefix, order=order, limit=limit, offset=offset)
    if prefix and not full:
        rows = [r for r in rows if r["subject"] == prefix]
        total = len(rows)
    return SubjectListOut(
        view="full" if full else "public",
        grade=grade,
        total=total,
        subjects=[
            SubjectGradeOut(
                **{**r, "subject": shown(r["subject"], full), "arrears_amount": r["arrears_amount"] if full else None}
            )
            for r in rows
        ],
    )


@router.get("/indicators", response_model=IndicatorsOut, responses=errors(*READ))
def get_indicators(
    projections: ProjectionsDep,
    viewer: ViewerDep,
    by: Annotated[Grouping, Query(description="Group by month, contract type, or both.")] = "month_type",
) -> IndicatorsOut:
    """Platform indicators: contracts proposed, registered, terminated; performance reported, co-confirmed,
    disputed, settled on time; subjects and commitments, with the rates in basis points."""
    return IndicatorsOut(by=by, rows=[IndicatorOut(**r) for r in projections.indicators(by)])
