"""The ledger's exceptions: one base, each with a stable machine ``code`` and the HTTP ``status`` it maps to.

    LedgerError
     +-- MalformedInput     400  not JSON, wrong shape, invalid identifier, bad body
     +-- BadSignature       401  a signature does not verify, or its key is unknown or revoked at that position
     +-- Forbidden          403  the caller's role may not do this
     +-- NotFound           404  no such entry, subject, contract, commitment
     +-- VersionConflict    409  the statement's version is not the aggregate's next one (replay, concurrent change)
     +-- RuleRejected       422  the statement is illegal after the ones before it
     +-- StoreUnavailable   503  the database could not be reached or timed out

Nothing is stored when any of them is raised. The API maps them to responses in one place (api/errors.py).
"""

from __future__ import annotations

from typing import Any, ClassVar


class LedgerError(Exception):
    """Base of every error raised by the ledger package."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The error as a JSON-ready object: ``{"code", "message", ...details}``."""
        return {"code": self.code, "message": str(self), **self.details}


class MalformedInput(LedgerError):
    """The input is not well formed."""

    status = 400
    default_code = "malformed"


class BadSignature(LedgerError):
    """A signature does not verify, or its key is unknown or not valid at this log position."""

    status = 401
    default_code = "bad_signature"


class Forbidden(LedgerError):
    """The caller's role may not perform this action."""

    status = 403
    default_code = "forbidden"


class NotFound(LedgerError):
    """The thing asked for does not exist."""

    status = 404
    default_code = "not_found"


class VersionConflict(LedgerError):
    """The statement's version is not the next version of its aggregate: a replay or a concurrent change."""

    status = 409
    default_code = "version_conflict"


class RuleRejected(LedgerError):
    """The statement is not legal after the statements before it (a domain rule refuses it)."""

    status = 422
    default_code = "rule_violation"


class StoreUnavailable(LedgerError):
    """The event store could not be reached or did not answer in time."""

    status = 503
    default_code = "store_unavailable"
