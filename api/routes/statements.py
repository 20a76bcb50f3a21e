"""Parties submit signed statements; they authenticate by their signatures."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import GroupCommitDep, LedgerDep
from api.models import BatchIn, Receipt, SignedStatementIn
from api.responses import errors

router = APIRouter(prefix="/statements", tags=["statements"])

_SUBMIT_ERRORS = errors(400, 401, 403, 409, 422)


def _plain(item: SignedStatementIn) -> dict[str, Any]:
    return {"statement": item.statement, "signatures": [s.model_dump() for s in item.signatures]}


@router.post("", status_code=201, response_model=Receipt, responses=_SUBMIT_ERRORS)
def submit(signed: SignedStatementIn, group: GroupCommitDep) -> Receipt:
    """Append one signed statement; the receipt is the log's signed promise of its index.

    Statements arriving together share a transaction (group commit); each is accepted or refused on its own.
    """
    return Receipt(**group.submit(_plain(signed)))


@router.post("/batch", status_code=201, response_model=list[Receipt], responses=_SUBMIT_ERRORS)
def submit_batch(batch: BatchIn, ledger: LedgerDep) -> list[Receipt]:
    """Append up to 1000 signed statements in one transaction, all or nothing; an error names the ``item``."""
    return [Receipt(**r) for r in ledger.submit_batch([_plain(s) for s in batch.statements])]
