"""Parties submit signed statements; they authenticate by their signatures."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from api.deps import GroupCommitDep, LedgerDep
from api.models import BatchIn, Receipt, SignedStatementIn
from api.responses import errors
from ledger.errors import MalformedInput
from ledger.group_commit import GroupCommit

router = APIRouter(prefix="/statements", tags=["statements"])

MAX_STATEMENT_BYTES = 1 << 20

_SUBMIT_ERRORS = errors(400, 401, 403, 409, 422)


def _plain(item: SignedStatementIn) -> dict[str, Any]:
    return {"statement": item.statement, "signatures": [s.model_dump() for s in item.signatures]}


@router.post(
    "",
    status_code=201,
    response_model=Receipt,
    responses=_SUBMIT_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignedStatementIn"}}},
        }
    },
)
async def submit(request: Request, group: GroupCommitDep) -> Response:
    """Append one signed statement; the receipt is the log's signed promise of its index.

    Statements arriving together share a transaction (group commit); each is accepted or refused on its own.
    The body is read as bytes and checked by the ledger itself (docs/format.md section 3), the hot path.
    """
    return await answer(await request.body(), group)


def check_size(body: bytes) -> None:
    """Refuse a body longer than any statement may be.

    Raises:
        MalformedInput: ``too_large``.
    """
    if len(body) > MAX_STATEMENT_BYTES:
        raise MalformedInput(f"a statement is at most {MAX_STATEMENT_BYTES} bytes", code="too_large")


async def answer(body: bytes, group: GroupCommit) -> Response:
    """The response to ``POST /statements`` with ``body``: the receipt, 201.

    Raises:
        LedgerError: the statement is refused (nothing stored).
    """
    check_size(body)
    try:
        item = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise MalformedInput(f"body is not JSON: {e}", code="malformed") from None
    if not isinstance(item, dict):
        raise MalformedInput("body must be a JSON object {statement, signatures}", code="malformed")
    receipt = await group.submit_async(item)
    return Response(orjson.dumps(receipt), status_code=201, media_type="application/json")


@router.post("/batch", status_code=201, response_model=list[Receipt], responses=_SUBMIT_ERRORS)
def submit_batch(batch: BatchIn, ledger: LedgerDep) -> list[Receipt]:
    """Append up to 1000 signed statements in one transaction, all or nothing; an error names the ``item``."""
    return [Receipt(**r) for r in ledger.submit_batch([_plain(s) for s in batch.statements])]
