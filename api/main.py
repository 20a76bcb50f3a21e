"""The application factory: ``create_app(ledger)`` builds the FastAPI application around an open Ledger."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from api import errors
from api.access import AccessLog
from api.auth import Tokens, issue_tokens
from api.clock import OpenAggregates
from api.committer import RemoteCommit
from api.fast_submit import FastSubmit
from api.ratelimit import RateLimiter
from api.routes import aggregates, casework, credit, desk, log, operator, portal, push, statements, subjects
from api.views import attach_projections, open_projections
from ledger.group_commit import GroupCommit
from ledger.projections import Poller, Projections
from ledger.service import Ledger

DESCRIPTION = """A signed, hash-chained, event-sourced ledger of administrative contracts (行政性合同) and credit
commitments (信用承诺). Parties authenticate by the Ed25519 signatures on the statements they submit; the
registration authority, the operator and the auditor by bearer tokens. Errors are `{"code", "message", ...}`."""


def create_app(
    ledger: Ledger,
    *,
    tokens: Tokens | None = None,
    rate: float = 20.0,
    burst: int = 100,
    access_log: Path | None = None,
    projections: Projections | None = None,
    poller: Poller | None = None,
    catch_up: bool | None = None,
) -> FastAPI:
    """The HTTP API around ``ledger``.

    ``tokens`` defaults to those of ``issue_tokens`` for the ledger's data directory; the public (callers
    without a role token) may make ``rate`` reads per second per address with bursts of ``burst``
    (``rate <= 0``: no limit). Role accesses are logged to ``access_log`` (default
    ``<data dir>/access-log.jsonl``).

    ``projections`` are the read models the credit routes and ``/check`` answer from; when None the application
    opens them itself (``api.views.open_projections``) and closes them at shutdown. ``poller`` is the thread that
    keeps them current, if one runs in this process (it is stopped at shutdown only if the caller lets the
    application own it: see ``app_from_env``). ``catch_up`` (default: True when there is no poller) makes every
    credit read apply the entries the projections have not yet seen first.

    Raises:
        ValueError, OSError: the tokens cannot be read or created.
        MalformedInput: the projections had to be opened and the grading rules file is invalid.
    """
    if tokens is None:
        tokens, _new = issue_tokens(ledger.settings.data_dir)
    own_projections = projections is None
    if projections is None:
        projections = open_projections(ledger)
    attach_projections(ledger, projections, catch_up=poller is None if catch_up is None else catch_up)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        owned: Poller | None = app.state.own_poller
        if owned is not None:
            owned.stop()
        if own_projections:
            app.state.projections.engine.dispose()
        app.state.access.close()

    app = FastAPI(title="lvyue 履约", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.ledger = ledger
    app.state.projections = projections
    app.state.poller = poller
    app.state.own_poller = None
    app.state.group_commit = GroupCommit(ledger)
    app.state.remote_commit = None  # set by app_from_env when another process commits (api.committer)
    app.state.tokens = tokens
    app.state.limiter = RateLimiter(rate, burst) if rate > 0 else None
    app.state.access = AccessLog(access_log or ledger.settings.data_dir / "access-log.jsonl")
    app.state.open_aggregates = OpenAggregates()
    errors.install(app)
    app.add_middleware(FastSubmit)
    for module in (statements, aggregates, log, subjects, credit, desk, operator, casework, push, portal):
        app.include_router(module.router)
    _accurate_openapi(app)
    return app


def _accurate_openapi(app: FastAPI) -> None:
    """Drop FastAPI's automatic 422 validation response (this API answers validation errors with 400) and
    declare error bodies as JSON on routes whose success is text or JSON Lines."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.get("responses", {})
                for status, response in responses.items():
                    content = response.get("content", {})
                    if status[0] in "45" and "application/json" not in content and content:
                        response["content"] = {"application/json": next(iter(content.values()))}
                ref = str(responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema"))
                if "HTTPValidationError" in ref:
                    del responses["422"]
        components = schema.get("components", {}).get("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_env() -> FastAPI:
    """The application around the Ledger named by the LVYUE_* environment (for ``uvicorn --factory`` workers).

    LVYUE_RATE sets the public's reads per second (0: no limit). LVYUE_PROJECTIONS_POLL: ``1`` (default) runs a
    projections poller in this worker (safe with several workers: the runner's position moves by compare-and-set,
    so no entry is applied twice; the losers of a race just retry), ``0`` runs none and reads the projections as
    they are, another process keeping them current (``lvyue serve --workers N`` runs one poller in its
    supervising process and sets ``0`` for its workers). LVYUE_COMMITTER, when set, is the socket of the process
    that commits submitted statements for every worker (``api.committer``; ``lvyue serve --workers N`` sets it).

    Raises:
        LedgerError: the store cannot be opened.
    """
    import os

    from ledger.settings import Settings

    ledger = Ledger.open(Settings.from_env())
    projections = open_projections(ledger)
    poll = os.environ.get("LVYUE_PROJECTIONS_POLL", "1") != "0"
    poller = projections.start_polling(ledger, interval=0.25) if poll else None
    app = create_app(
        ledger, rate=float(os.environ.get("LVYUE_RATE", "20")), projections=projections, poller=poller, catch_up=False
    )
    app.state.own_poller = poller
    committer = os.environ.get("LVYUE_COMMITTER")
    if committer:
        app.state.remote_commit = RemoteCommit(Path(committer))
    return app
