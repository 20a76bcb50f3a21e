"""The operator (operator's token): the overdue clock and checkpoints."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import LedgerDep, OpenAggregatesDep, OperatorDep
from api.models import CheckpointOut, ClockIn, ClockOut
from api.responses import errors
from api.views import today
from ledger.errors import RuleRejected

router = APIRouter(prefix="/operator", tags=["operator"])


@router.post("/clock", response_model=ClockOut, responses=errors(400, 401, 403, 422))
def clock(body: ClockIn, ledger: LedgerDep, index: OpenAggregatesDep, role: OperatorDep) -> ClockOut:
    """Mark overdue every milestone and commitment past due as of ``as_of`` and not yet marked."""
    if body.as_of > today():
        raise RuleRejected(f"as_of {body.as_of} is later than today {today()}", code="bad_date")
    return index.run(ledger, body.as_of)


@router.post("/checkpoint", response_model=CheckpointOut, responses=errors(401, 403))
def issue_checkpoint(ledger: LedgerDep, role: OperatorDep) -> CheckpointOut:
    """Issue a checkpoint if the tree grew; return the latest."""
    note = ledger.checkpoint()
    return CheckpointOut(size=int(note.split("\n")[1]), note=note)
