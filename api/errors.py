"""One place mapping errors to responses: LedgerError -> its status with ``{"code", "message", ...}``.

Request validation errors and malformed JSON are 400 ``malformed``; unknown paths 404 ``not_found``; a rule
refusing a statement because of the actor's role (``wrong_role``, ``not_a_party``) is 403; the event store not
answering in time (its connection pool exhausted, the database locked or down) is 503 ``store_unavailable`` with
``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import LedgerError, StoreUnavailable

FORBIDDEN_RULES = frozenset({"wrong_role", "not_a_party"})

_HTTP_CODES = {
    400: "malformed",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
}


class ApiError(LedgerError):
    """An error raised by the API layer itself, with an explicit status."""

    def __init__(self, status: int, message: str, *, code: str, **details: Any) -> None:
        super().__init__(message, code=code, **details)
        self.api_status = status


def status_of(error: LedgerError) -> int:
    """The HTTP status of a ledger error."""
    if isinstance(error, ApiError):
        return error.api_status
    if error.status == 422 and error.code in FORBIDDEN_RULES:
        return 403
    return error.status


def error_response(error: LedgerError, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON response of a ledger error."""
    return JSONResponse(jsonable_encoder(error.to_dict()), status_code=status_of(error), headers=headers)


async def _ledger_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LedgerError)
    return ledger_error_response(exc)


def ledger_error_response(exc: LedgerError) -> JSONResponse:
    """The response to a ledger error, with the headers its status calls for."""
    headers = None
    if isinstance(exc, ApiError) and exc.api_status == 429:
        headers = {"Retry-After": str(exc.details.get("retry_after", 1))}
    elif isinstance(exc, ApiError) and exc.api_status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return error_response(exc, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
    message = f"{'.'.join(first['loc'])}: {first['msg']}" if first["loc"] else str(first["msg"])
    return JSONResponse({"code": "malformed", "message": message, "errors": problems}, status_code=400)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    return JSONResponse({"code": code, "message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    error = StoreUnavailable(f"the event store did not answer in time: {type(exc).__name__}")
    return error_response(error, {"Retry-After": "1"})


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(PersistenceError, _store_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
