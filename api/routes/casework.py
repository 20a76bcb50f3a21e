"""Casework: judgments (import, review queue), objections and repairs (decisions), the publicity clock,
indicators, public records, the persons' identity store and its access log.

Subjects file objections and apply for repairs with signed statements (``POST /statements``); the operator
decides here with its token. Reading a person's identity needs the operator's or authority's token and a reason;
every read is in the access log, which the auditor reads.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.auth import Role
from api.deps import AuditorDep, AuthorityDep, LedgerDep, OperatorDep, ReaderDep, get_role
from api.errors import ApiError
from api.responses import errors
from api.views import today
from ledger import judgments, objections, privacy, repair
from ledger.errors import RuleRejected

router = APIRouter(prefix="/casework", tags=["casework"])

_WRITE = errors(400, 401, 403, 404, 409, 422)
_READ = errors(400, 401, 403, 404)


def _objection_policy(request: Request) -> objections.ObjectionPolicy:
    policy = getattr(request.app.state, "objection_policy", None)
    return policy if isinstance(policy, objections.ObjectionPolicy) else objections.ObjectionPolicy()


def _repair_policy(request: Request) -> repair.RepairPolicy:
    policy = getattr(request.app.state, "repair_policy", None)
    return policy if isinstance(policy, repair.RepairPolicy) else repair.RepairPolicy()


class LinkIn(BaseModel):
    """The contract an unmatched judgment is about."""

    contract: str


class ObjectionDecisionIn(BaseModel):
    """The operator's decision on an objection."""

    upheld: bool
    reason: str = Field(min_length=1)
    correction: str | None = None


class RepairDecisionIn(BaseModel):
    """The operator's decision on a repair application."""

    approve: bool
    reason: str = Field(min_length=1)


class ClockIn(BaseModel):
    """The date the publicity clock runs for."""

    as_of: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")


class PersonIn(BaseModel):
    """A person to register: name and citizen ID number (never logged)."""

    name: str = Field(min_length=1, max_length=200)
    id_number: str = Field(min_length=18, max_length=18)


class ReasonIn(BaseModel):
    """Who reads or erases a person's identity, and why."""

    who: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/judgments", status_code=201, responses=_WRITE)
def import_one(row: dict[str, Any], ledger: LedgerDep, role: OperatorDep) -> dict[str, Any]:
    """Import one judgment or award (a JSON object of the import columns); the row report says what became of
    it (``applied``, ``matched``, ``review`` or ``refused`` with its code and reason)."""
    return judgments.import_judgment(ledger, row).to_dict()


@router.post("/judgments/import", responses=_WRITE)
async def import_many(request: Request, ledger: LedgerDep, role: OperatorDep) -> dict[str, Any]:
    """Import a CSV (``text/csv``) or JSON Lines body; per-row report with totals."""
    data = await request.body()
    fmt = "csv" if request.headers.get("content-type", "").startswith("text/csv") else None
    rows = list(judgments.read_rows(data, fmt))
    return judgments.import_judgments(ledger, rows).to_dict()


@router.get("/judgments/review", responses=_READ)
def review(ledger: LedgerDep, role: OperatorDep) -> list[dict[str, Any]]:
    """Unmatched judgments waiting for the operator, with candidate contracts."""
    return judgments.review_queue(ledger)


@router.post("/judgments/{judgment}/link", status_code=201, responses=_WRITE)
def link(judgment: str, body: LinkIn, ledger: LedgerDep, role: OperatorDep) -> list[dict[str, Any]]:
    """Link a judgment of the review queue to its contract and apply it; the receipts."""
    return judgments.link_judgment(ledger, judgment, body.contract)


@router.get("/objections", responses=_READ)
def list_objections(
    request: Request, ledger: LedgerDep, role: OperatorDep, status: str | None = None, overdue: bool = False
) -> list[dict[str, Any]]:
    """Objections with their due date; ``overdue=true`` lists only undecided ones past their time limit."""
    policy = _objection_policy(request)
    if overdue:
        return objections.overdue_objections(ledger, policy)
    return objections.objections(ledger, policy, status=status)


@router.post("/objections/{objection}/decision", status_code=201, responses=_WRITE)
def decide_objection(objection: str, body: ObjectionDecisionIn, ledger: LedgerDep, role: OperatorDep) -> dict[str, Any]:
    """Uphold (with the correction) or reject an objection; the receipt."""
    return objections.decide_objection(
        ledger, objection, upheld=body.upheld, reason=body.reason, correction=body.correction
    )


@router.get("/repairs", responses=_READ)
def list_repairs(request: Request, ledger: LedgerDep, role: OperatorDep, status: str | None = None) -> list[Any]:
    """Repair cases with their decision due date."""
    return repair.repairs(ledger, _repair_policy(request), status=status)


@router.post("/repairs/{aggregate}/decision", status_code=201, responses=_WRITE)
def decide_repair(
    aggregate: str, body: RepairDecisionIn, request: Request, ledger: LedgerDep, role: OperatorDep
) -> dict[str, Any]:
    """Approve (after the minimum publicity period) or reject a repair application; the receipt."""
    return repair.decide_repair(
        ledger, aggregate, approve=body.approve, reason=body.reason, policy=_repair_policy(request)
    )


@router.post("/publicity/clock", responses=_WRITE)
def publicity_clock(body: ClockIn, request: Request, ledger: LedgerDep, role: OperatorDep) -> dict[str, Any]:
    """End the publicity of every record whose maximum period is over by ``as_of`` (not later than today)."""
    if body.as_of > today():
        raise RuleRejected(f"as_of {body.as_of} is later than today {today()}", code="bad_date")
    receipts = repair.expire_publicity(ledger, body.as_of, _repair_policy(request))
    return {"ended": len(receipts), "receipts": receipts}


@router.get("/indicators", responses=errors(400, 401, 429))
def indicators(request: Request, ledger: LedgerDep, reader: ReaderDep) -> dict[str, Any]:
    """Objection rate (信用异议发生率), repair applications and pass rate (信用修复通过率), decisions within
    their time limits, the review queue's length and the published repair policy."""
    policy = _repair_policy(request)
    return {
        "objections": objections.objection_indicators(ledger, _objection_policy(request)),
        "repairs": repair.repair_indicators(ledger, policy),
        "judgments_in_review": len(judgments.cases(ledger, "judgment", status="unmatched")),
        "repair_policy": policy.to_dict(),
    }


@router.get("/subjects/{subject}/records", responses=errors(400, 401, 429))
def records(
    subject: str,
    request: Request,
    ledger: LedgerDep,
    reader: ReaderDep,
    role: Annotated[Role | None, Depends(get_role)],
) -> dict[str, Any]:
    """A subject's negative records with severity and publicity period. The public sees the disclosed ones with
    the subject id masked; a role token (the auditor's view) sees withheld ones too."""
    full = role is not None
    out = repair.public_records(ledger, subject, _repair_policy(request), full=full)
    shown = subject if full else privacy.public_subject(subject)
    return {"subject": shown, "records": [{**r, "subject": shown} for r in out]}


async def _person_role(request: Request, role: Annotated[Role | None, Depends(get_role)]) -> Role:
    if role is None:
        raise ApiError(401, "this needs the operator's or the authority's bearer token", code="unauthorized")
    if role not in privacy.READ_ROLES:
        raise ApiError(403, f"the {role} may not read persons' identities", code="forbidden")
    return role


PersonRole = Annotated[Role, Depends(_person_role)]


@router.post("/persons", status_code=201, responses=_WRITE)
def register_person(body: PersonIn, ledger: LedgerDep, role: AuthorityDep) -> dict[str, str]:
    """Register a person: identity encrypted under the person's own key, pseudonym registered in the log."""
    return {"subject": privacy.register_person(ledger, body.name, body.id_number, who="authority")}


@router.post("/persons/{subject}/read", responses=_READ)
def read_person(subject: str, body: ReasonIn, ledger: LedgerDep, role: PersonRole) -> dict[str, str]:
    """Read a person's name and ID number (logged with who and why)."""
    p = privacy.read_person(ledger, subject, who=body.who, role=role, reason=body.reason)
    return {"subject": p.pseudonym, "name": p.name, "id_number": p.id_number}


@router.post("/persons/{subject}/erase", status_code=204, responses=_READ)
def erase_person(subject: str, body: ReasonIn, ledger: LedgerDep, role: PersonRole) -> None:
    """Crypto-shred a person's identity (the key is deleted; the log is untouched)."""
    privacy.erase_person(ledger, subject, who=body.who, role=role, reason=body.reason)


@router.get("/access-log", responses=_READ)
def access_log(ledger: LedgerDep, role: AuditorDep, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
    """The identity store's access log (who, what, when, why), for the auditor."""
    return [r.to_dict() for r in privacy.access_log(ledger, after=after, limit=min(max(limit, 1), 10000))]
