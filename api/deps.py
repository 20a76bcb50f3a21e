"""Dependencies of the routes, as Annotated aliases: the ledger, its projections, the caller's role, rate limiting."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.access import AccessLog
from api.auth import Role, Tokens
from api.clock import OpenAggregates
from api.errors import ApiError
from api.ratelimit import RateLimiter
from api.views import current_projections
from ledger.group_commit import GroupCommit
from ledger.projections import Projections
from ledger.service import Ledger

_bearer = HTTPBearer(auto_error=False, description="A role token: registration authority, operator or auditor.")


async def get_ledger(request: Request) -> Ledger:
    """The application's ledger."""
    ledger: Ledger = request.app.state.ledger
    return ledger


async def get_open_aggregates(request: Request) -> OpenAggregates:
    """The application's index of contracts and commitments the clock still watches."""
    index: OpenAggregates = request.app.state.open_aggregates
    return index


async def get_group_commit(request: Request) -> GroupCommit:
    """The application's group committer for single statements."""
    group: GroupCommit = request.app.state.group_commit
    return group


def get_projections(request: Request) -> Projections:
    """The application's projections (read models: histories, grades, contracts, indicators).

    An application without a poller of its own in this process brings them up to date first (see
    ``api.views.current_projections``); one with a poller reads them as they are (at most one tick behind).
    """
    return current_projections(request.app.state.ledger)


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
ProjectionsDep = Annotated[Projections, Depends(get_projections)]
GroupCommitDep = Annotated[GroupCommit, Depends(get_group_commit)]
OpenAggregatesDep = Annotated[OpenAggregates, Depends(get_open_aggregates)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _target(request: Request) -> str:
    query = request.url.query
    return request.url.path + ("?" + query if query else "")


async def get_role(request: Request, credentials: Credentials) -> Role | None:
    """The role whose bearer token the request carries; None without a token. (The dependencies are
    coroutines: they do no I/O worth a thread, and FastAPI would run a plain function in its thread pool.)

    Raises:
        ApiError: 401 ``unauthorized`` for a token of no role.
    """
    return _role_of(request, credentials)


def _role_of(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Role | None:
    if credentials is None:
        if "authorization" in request.headers:
            raise ApiError(401, "the Authorization header is not a bearer token", code="unauthorized")
        return None
    tokens: Tokens = request.app.state.tokens
    role = tokens.role_of(credentials.credentials)
    if role is None:
        raise ApiError(401, "the bearer token is not a token of any role", code="unauthorized")
    return role


RoleDep = Annotated[Role | None, Depends(get_role)]


@dataclass(frozen=True)
class Viewer:
    """Who reads: a role (full views, logged) or the public (None: public views, rate-limited)."""

    role: Role | None

    @property
    def full(self) -> bool:
        """True when the reader may see restricted data."""
        return self.role is not None


def rate_limit(request: Request) -> None:
    """Take a token from the client's bucket.

    Raises:
        ApiError: 429 ``rate_limited`` when the bucket is empty.
    """
    limiter: RateLimiter | None = request.app.state.limiter
    if limiter is None:
        return
    client = request.client.host if request.client else "unknown"
    wait = limiter.allow(client)
    if wait > 0:
        raise ApiError(429, "too many requests; slow down", code="rate_limited", retry_after=max(1, round(wait + 0.5)))


async def get_reader(request: Request, role: RoleDep) -> Viewer:
    """A reader of public data: the public is rate-limited, a role is not.

    Raises:
        ApiError: 401 for a bad token, 429 when the public client exceeds its rate.
    """
    if role is None:
        rate_limit(request)
    return Viewer(role)


async def get_viewer(request: Request, role: RoleDep) -> Viewer:
    """A reader of data with restricted parts: a role's reads go to the access log, the public's are
    rate-limited.

    Raises:
        ApiError: 401 for a bad token, 429 when the public client exceeds its rate.
    """
    if role is None:
        rate_limit(request)
    else:
        access: AccessLog = request.app.state.access
        access.record(role, request.method, _target(request), request.client.host if request.client else None)
    return Viewer(role)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]
ReaderDep = Annotated[Viewer, Depends(get_reader)]


def require(role: Role) -> Callable[[Request, Credentials], Coroutine[Any, Any, Role]]:
    """A dependency admitting only callers with ``role``'s bearer token (and logging the access).

    The dependency raises ApiError 401 without a valid token and 403 with another role's token.
    """

    async def dependency(request: Request, credentials: Credentials) -> Role:
        if credentials is None:
            raise ApiError(401, f"this needs the {role}'s bearer token", code="unauthorized")
        found = _role_of(request, credentials)
        if found != role:
            raise ApiError(403, f"this needs the {role}'s token, not the {found}'s", code="forbidden")
        access: AccessLog = request.app.state.access
        access.record(role, request.method, _target(request), request.client.host if request.client else None)
        return role

    return dependency


AuthorityDep = Annotated[Role, Depends(require("authority"))]
OperatorDep = Annotated[Role, Depends(require("operator"))]
AuditorDep = Annotated[Role, Depends(require("auditor"))]
