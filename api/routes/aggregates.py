"""Aggregate versions, so a client can build the next statement."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import LedgerDep, ReaderDep
from api.models import AggregateOut
from api.responses import READ, errors
from api.views import check_aggregate_id

router = APIRouter(prefix="/aggregates", tags=["aggregates"])


@router.get("/{aggregate}", response_model=AggregateOut, responses=errors(*READ))
def get_aggregate(aggregate: str, ledger: LedgerDep, reader: ReaderDep) -> AggregateOut:
    """The aggregate's current version (0 when it has no statement yet)."""
    return AggregateOut(aggregate=aggregate, version=ledger.version(check_aggregate_id(aggregate)))
