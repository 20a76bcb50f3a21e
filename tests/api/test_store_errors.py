"""An event store that does not answer in time is 503 store_unavailable with Retry-After, never a 500."""

from __future__ import annotations

from eventsourcing.persistence import ConnectionUnavailableError, OperationalError
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import errors


def test_persistence_errors_are_503_with_retry_after() -> None:
    app = FastAPI()
    errors.install(app)

    @app.get("/pool")
    def pool() -> None:
        raise ConnectionUnavailableError("Timed out waiting for return of writer")

    @app.get("/locked")
    def locked() -> None:
        raise OperationalError("database is locked")

    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/pool", "/locked"):
            r = client.get(path)
            assert r.status_code == 503
            assert r.json()["code"] == "store_unavailable"
            assert r.headers["retry-after"] == "1"
