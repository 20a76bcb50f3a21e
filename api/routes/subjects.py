"""Subjects, contracts, commitments and the batch check: public views for the public, full views for the
platform's roles (those reads are logged)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import LedgerDep, ViewerDep
from api.errors import ApiError
from api.models import CheckIn, CheckOut, CommitmentOut, ContractOut, SubjectOut
from api.responses import READ, errors
from api.views import check_subjects, commitment_view, contract_view, subject_view, today

router = APIRouter(tags=["subjects"])

MAX_CODES = 1000


@router.get("/subjects/{subject}", response_model=SubjectOut, responses=errors(*READ, 404))
def get_subject(subject: str, ledger: LedgerDep, viewer: ViewerDep) -> SubjectOut:
    """A registered subject and its keys; the public sees the id masked and no public keys."""
    return subject_view(ledger, subject, full=viewer.full)


@router.get("/contracts/{aggregate}", response_model=ContractOut, responses=errors(*READ, 404))
def get_contract(aggregate: str, ledger: LedgerDep, viewer: ViewerDep) -> ContractOut:
    """A contract's state; the public sees amounts only when the terms disclose them."""
    return contract_view(ledger, aggregate, full=viewer.full)


@router.get("/commitments/{aggregate}", response_model=CommitmentOut, responses=errors(*READ, 404))
def get_commitment(aggregate: str, ledger: LedgerDep, viewer: ViewerDep) -> CommitmentOut:
    """A credit commitment's state."""
    return commitment_view(ledger, aggregate, full=viewer.full)


def _check(ledger: LedgerDep, codes: list[str], *, public: bool) -> CheckOut:
    if not codes or len(codes) > MAX_CODES:
        raise ApiError(400, f"give 1 to {MAX_CODES} subject ids", code="malformed", count=len(codes))
    as_of = today()
    results = check_subjects(ledger, codes, as_of)
    if public:  # amounts come from contract terms, which the public sees only when disclosed
        results = [r.model_copy(update={"arrears_amount": None}) for r in results]
    return CheckOut(as_of=as_of, results=results)


@router.get("/check", response_model=CheckOut, responses=errors(*READ))
def check_get(
    ledger: LedgerDep,
    viewer: ViewerDep,
    codes: Annotated[str, Query(description="Subject ids separated by commas (at most 1000).")],
) -> CheckOut:
    """For each subject id: registered?, open overdue milestones it owes, broken commitments, grade."""
    return _check(ledger, [c.strip() for c in codes.split(",") if c.strip()], public=not viewer.full)


@router.post("/check", response_model=CheckOut, responses=errors(*READ))
def check_post(body: CheckIn, ledger: LedgerDep, viewer: ViewerDep) -> CheckOut:
    """As ``GET /check``, with the subject ids in the body."""
    return _check(ledger, body.codes, public=not viewer.full)
