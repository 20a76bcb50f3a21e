"""A minimal HTML portal page: the log's size, latest checkpoint and links."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.deps import LedgerDep, ReaderDep
from api.responses import READ, errors

router = APIRouter(tags=["portal"])
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


@router.get("/", response_class=HTMLResponse, responses=errors(*READ))
def portal(request: Request, ledger: LedgerDep, reader: ReaderDep) -> HTMLResponse:
    """The portal page."""
    latest = ledger.store.latest_checkpoint()
    return templates.TemplateResponse(
        request,
        "portal.html",
        {
            "origin": ledger.origin,
            "size": ledger.size(),
            "verifier_key": ledger.verifier_key,
            "checkpoint": latest[1] if latest else None,
        },
    )
