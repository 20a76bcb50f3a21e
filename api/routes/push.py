"""Tracking and push (跟踪推送): signed follow requests, subscriptions, server-sent events.

A party subscribes with a follow request signed by its key (ledger.push.subscriptions); the subscription id it
gets back is the capability to read the subscription's server-sent events. Webhook subscriptions are delivered
by ``lvyue push run`` (ledger.push.webhook), signed by the log key.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

import ledger.push.subscriptions as subs
from api.deps import LedgerDep
from api.responses import errors
from ledger.push.sse import stream
from verifier.statement import b64encode

router = APIRouter(prefix="/push", tags=["push"])


@router.post("/subscriptions", status_code=201, responses=errors(400, 401, 403, 404))
def subscribe(signed: dict[str, Any], ledger: LedgerDep) -> dict[str, Any]:
    """Follow a subject: body ``{"request": {follower, key_id, subject, url, start, time, nonce}, "sig"}``."""
    sid = subs.follow_signed(ledger, signed)
    return subs.get_subscription(ledger, sid).to_dict()


@router.get("/subscriptions/{sid}", responses=errors(404))
def subscription(sid: str, ledger: LedgerDep) -> dict[str, Any]:
    """A subscription and its delivery position."""
    return subs.get_subscription(ledger, sid).to_dict()


@router.delete("/subscriptions/{sid}", status_code=204, responses=errors(404))
def unsubscribe(sid: str, ledger: LedgerDep) -> None:
    """Stop following."""
    subs.unfollow(ledger, sid)


@router.get("/key", responses=errors(400))
def push_key(ledger: LedgerDep) -> dict[str, str]:
    """The public key that signs pushed events (the log key) and the log's verifier key."""
    return {"public_key": b64encode(ledger.platform.log_public_key), "verifier_key": ledger.verifier_key}


@router.get(
    "/subscriptions/{sid}/events",
    responses={200: {"content": {"text/event-stream": {}}}, **errors(404)},
    response_class=StreamingResponse,
)
def events(
    sid: str, ledger: LedgerDep, last_event_id: Annotated[str | None, Header()] = None, limit: int | None = None
) -> StreamingResponse:
    """Server-sent events of the subscription's subject from its position (or after ``Last-Event-ID``);
    ``limit`` ends the stream after that many events."""
    sub = subs.get_subscription(ledger, sid)
    start = sub.position
    if last_event_id is not None and last_event_id.strip().isdigit():
        start = int(last_event_id) + 1
    body = stream(ledger, sub.subject, start, max_events=limit)
    return StreamingResponse(body, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
