"""The registration desk (registration authority's token): register subjects, bind and revoke keys."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AuthorityDep, LedgerDep
from api.models import DeskKeyIn, DeskRevokeIn, DeskSubjectIn, Receipt
from api.responses import errors
from ledger.errors import MalformedInput
from verifier.errors import VerifierError
from verifier.identity import key_id, subject_aggregate
from verifier.statement import b64decode

router = APIRouter(prefix="/desk", tags=["desk"])

_ERRORS = errors(400, 401, 403, 409, 422)


@router.post("/subjects", status_code=201, response_model=Receipt, responses=_ERRORS)
def register_subject(body: DeskSubjectIn, ledger: LedgerDep, role: AuthorityDep) -> Receipt:
    """Register a subject (``subject.registered``, signed with the authority's key)."""
    r = ledger.submit_as_platform(
        "authority",
        "subject.registered",
        subject_aggregate(body.subject),
        {"subject": body.subject, "kind": body.kind, "name": body.name},
    )
    return Receipt(**r)


@router.post("/keys", status_code=201, response_model=Receipt, responses=_ERRORS)
def bind(body: DeskKeyIn, ledger: LedgerDep, role: AuthorityDep) -> Receipt:
    """Bind an Ed25519 public key to a registered subject (``key.bound``)."""
    try:
        kid = key_id(b64decode(body.public_key, what="public_key", size=32))
    except VerifierError as e:
        raise MalformedInput(str(e), code="malformed") from None
    statement = {"subject": body.subject, "key_id": kid, "public_key": body.public_key, "algorithm": "ed25519"}
    return Receipt(**ledger.submit_as_platform("authority", "key.bound", subject_aggregate(body.subject), statement))


@router.post("/keys/revoke", status_code=201, response_model=Receipt, responses=_ERRORS)
def revoke(body: DeskRevokeIn, ledger: LedgerDep, role: AuthorityDep) -> Receipt:
    """Revoke one of a subject's keys (``key.revoked``)."""
    statement = {"subject": body.subject, "key_id": body.key_id, "reason": body.reason}
    return Receipt(**ledger.submit_as_platform("authority", "key.revoked", subject_aggregate(body.subject), statement))
