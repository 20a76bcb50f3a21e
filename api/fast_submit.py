"""``POST /statements`` answered ahead of the framework's layers.

Submitting one signed statement is the API's hot path, and most of its cost in the server was not the ledger's
work but the framework's: routing, dependency resolution and four middleware layers, per request. This pure ASGI
middleware, installed outermost but for the server-error handler, answers exactly ``POST /statements`` with the
route's own function (``api.routes.statements.answer``) and the application's one error mapping, or hands it
to the process that commits for every worker when there is one (``api.committer``); every other
request passes through untouched. The route stays declared in the application, so the OpenAPI document
describes it as before, and both paths give the same answers (tests/api check them against each other).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.committer import RemoteCommit
from api.errors import ledger_error_response
from api.routes.statements import answer
from ledger.errors import LedgerError

__all__ = ["FastSubmit"]


class FastSubmit:
    """Answer ``POST /statements`` directly; pass everything else on to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/statements" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        remote: RemoteCommit | None = request.app.state.remote_commit
        try:
            body = await request.body()
            if remote is not None:
                response = await remote.answer(body)
            else:
                response = await answer(body, request.app.state.group_commit)
        except LedgerError as e:
            response = ledger_error_response(e)
        await response(scope, receive, send)
