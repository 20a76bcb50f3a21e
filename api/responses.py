"""Response classes for non-JSON bodies and the documented error responses of each route."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from api.models import ErrorOut

_DESCRIPTIONS = {
    400: "Malformed request (`malformed`): not JSON, wrong shape, bad identifier or parameter.",
    401: "Bad signature, unknown or revoked key, or a missing or unknown bearer token.",
    403: "The caller's role may not do this (`forbidden`, `wrong_role`, `not_a_party`).",
    404: "No such entry, subject, contract or commitment, or a size outside the log.",
    409: "`version_conflict`: the statement's version is not the aggregate's next one.",
    422: "The statement is illegal after the ones before it (rule code in `code`).",
    429: "`rate_limited`: the public client sent too many requests; see Retry-After.",
    503: "`store_unavailable`: the database could not be reached.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries of these error statuses (each an ErrorOut)."""
    return {s: {"model": ErrorOut, "description": _DESCRIPTIONS[s]} for s in (*statuses, 503)}


READ = (400, 401, 429)


class JSONLResponse(Response):
    """JSON Lines: one JSON value per line."""

    media_type = "application/jsonl"


class RawJSONResponse(Response):
    """JSON bytes sent exactly as stored (entry bytes are canonical JSON)."""

    media_type = "application/json"


def text(description: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entry of a 200 text/plain response."""
    return {200: {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}}


def jsonl(description: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entry of a 200 JSON Lines response."""
    return {200: {"description": description, "content": {"application/jsonl": {"schema": {"type": "string"}}}}}
