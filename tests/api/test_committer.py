"""POST /statements handed to the committing process (api.committer) is answered as a worker answers it."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.auth import Tokens
from api.committer import CommitServer, RemoteCommit
from api.main import create_app
from ledger.parties import Party
from ledger.service import Ledger
from tests.api.conftest import TOKENS, make_terms
from verifier.statement import terms_digest


def test_committer_answers_as_the_worker_would(ledger: Ledger, tmp_path: Path, buyer: Party, supplier: Party) -> None:
    server = CommitServer(ledger, tmp_path / "commit.sock")
    server.start()
    remote = create_app(ledger, tokens=Tokens.from_plain(TOKENS), rate=0, access_log=tmp_path / "a.jsonl")
    remote.state.remote_commit = RemoteCommit(server.path)
    local = create_app(ledger, tokens=Tokens.from_plain(TOKENS), rate=0, access_log=tmp_path / "b.jsonl")
    t = make_terms(buyer, supplier)
    good = buyer.statement("contract.proposed", str(uuid.uuid4()), {"terms": t, "terms_digest": terms_digest(t)})
    spoiled = copy.deepcopy(good)
    sig = spoiled["signatures"][0]["sig"]
    spoiled["signatures"][0]["sig"] = sig[:20] + ("A" if sig[20] != "A" else "B") + sig[21:]
    size = ledger.size()
    try:
        with TestClient(remote) as r, TestClient(local) as w:
            for body in (b"{", b"[]", b"{}", b"x" * ((1 << 20) + 1)):
                a, b = r.post("/statements", content=body), w.post("/statements", content=body)
                assert (a.status_code, a.json()) == (b.status_code, b.json()), body[:20]
            a, b = r.post("/statements", json=spoiled), w.post("/statements", json=spoiled)
            assert (a.status_code, a.json(), a.headers.get("www-authenticate")) == (
                b.status_code,
                b.json(),
                b.headers.get("www-authenticate"),
            )
            assert ledger.size() == size, "refusals store nothing"
            accepted = r.post("/statements", json=good)
            assert accepted.status_code == 201 and accepted.json()["index"] == size
            assert ledger.entry(size)  # committed by the committer's own group commit
            replayed = (r.post("/statements", json=good), w.post("/statements", json=good))
            assert [(x.status_code, x.json()["code"]) for x in replayed] == [(409, "version_conflict")] * 2
            server.stop()
            other = buyer.statement(
                "contract.proposed", str(uuid.uuid4()), {"terms": t, "terms_digest": terms_digest(t)}
            )
            gone = r.post("/statements", json=other)
            assert (gone.status_code, gone.json()["code"]) == (503, "store_unavailable")
            assert ledger.size() == size + 1
    finally:
        server.stop()


def test_a_commit_socket_that_cannot_be_bound_is_an_error(ledger: Ledger, tmp_path: Path) -> None:
    server = CommitServer(ledger, tmp_path / ("x" * 120 + ".sock"))  # longer than a Unix socket's path may be
    with pytest.raises(OSError):
        server.start()
