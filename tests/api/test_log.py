"""The log endpoints: checkpoint, key, size, entries, proofs, checkpoints, export — checked with the verifier."""

from __future__ import annotations

import base64

import orjson
from fastapi.testclient import TestClient

from ledger.parties import Party
from ledger.service import Ledger
from tests.api.conftest import registered_contract
from verifier.checkpoint import verify_checkpoint
from verifier.hashing import leaf_hash
from verifier.merkle import check_consistency, check_inclusion
from verifier.proof_file import check_proof_file


def test_checkpoint_key_size(client: TestClient, ledger: Ledger, buyer: Party, supplier: Party) -> None:
    r = client.get("/log/checkpoint")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.text == ledger.checkpoint()
    signed = verify_checkpoint(r.text, ledger.verifier_key)
    assert signed.checkpoint.size == ledger.size()
    key = client.get("/log/key")
    assert key.headers["content-type"].startswith("text/plain") and key.text == ledger.verifier_key + "\n"
    assert client.get("/log/size").json() == {"size": ledger.size()}
    registered_contract(buyer, supplier)
    grown = verify_checkpoint(client.get("/log/checkpoint").text, ledger.verifier_key)
    assert grown.checkpoint.size == ledger.size() > signed.checkpoint.size
    sizes = [c["size"] for c in client.get("/log/checkpoints").json()]
    assert sizes == sorted(sizes) and signed.checkpoint.size in sizes and grown.checkpoint.size in sizes


def test_entries_are_the_exact_bytes(client: TestClient, ledger: Ledger, buyer: Party, supplier: Party) -> None:
    registered_contract(buyer, supplier)
    size = ledger.size()
    r = client.get("/log/entries", params={"start": 0, "stop": size + 10})
    assert r.status_code == 200 and r.headers["content-type"] == "application/jsonl"
    assert r.content == b"".join(data + b"\n" for _i, data in ledger.entries(0, size))
    r = client.get("/log/entries", params={"start": 2, "stop": 4})
    assert [orjson.loads(line)["index"] for line in r.content.splitlines()] == [2, 3]
    assert client.get("/log/entries", params={"start": size, "stop": size}).content == b""
    one = client.get(f"/log/entries/{size - 1}")
    assert one.headers["content-type"] == "application/json" and one.content == ledger.entry(size - 1)


def test_entries_errors(client: TestClient, ledger: Ledger) -> None:
    for params in (
        {"start": 5, "stop": 4},
        {"start": 0, "stop": 1001},
        {"start": -1, "stop": 2},
        {"start": "x", "stop": 1},
    ):
        r = client.get("/log/entries", params=params)
        assert r.status_code == 400 and r.json()["code"] == "malformed", params
    assert client.get("/log/entries", params={"start": 0}).status_code == 400
    r = client.get(f"/log/entries/{ledger.size()}")
    assert r.status_code == 404 and r.json()["code"] == "no_entry"
    assert client.get("/log/entries/-1").status_code == 400


def test_inclusion_and_consistency_proofs_check(
    client: TestClient, ledger: Ledger, buyer: Party, supplier: Party
) -> None:
    old = verify_checkpoint(client.get("/log/checkpoint").text, ledger.verifier_key).checkpoint
    registered_contract(buyer, supplier)
    new = verify_checkpoint(client.get("/log/checkpoint").text, ledger.verifier_key).checkpoint
    for index in range(new.size):
        r = client.get("/log/proof/inclusion", params={"index": index, "size": new.size}).json()
        assert r["index"] == index and r["size"] == new.size
        proof = [base64.b64decode(h) for h in r["proof"]]
        check_inclusion(proof, new.size, new.root, index, leaf_hash(ledger.entry(index)))
    r = client.get("/log/proof/consistency", params={"old": old.size, "new": new.size}).json()
    assert (r["old"], r["new"]) == (old.size, new.size)
    check_consistency([base64.b64decode(h) for h in r["proof"]], new.size, new.root, old.size, old.root)


def test_proof_errors(client: TestClient, ledger: Ledger) -> None:
    size = ledger.size()
    r = client.get("/log/proof/inclusion", params={"index": size, "size": size})
    assert r.status_code == 404 and r.json()["code"] == "out_of_range"
    assert client.get("/log/proof/inclusion", params={"index": 0, "size": size + 1}).status_code == 404
    assert client.get("/log/proof/consistency", params={"old": 0, "new": size}).status_code == 404
    assert client.get("/log/proof/consistency", params={"old": 2, "new": 1}).status_code == 404
    assert client.get("/log/proof/consistency", params={"old": 1}).status_code == 400
    assert client.get(f"/log/proof/{size}").status_code == 404
    assert client.get("/log/proof/abc").status_code == 400


def test_tlog_proof_file(client: TestClient, ledger: Ledger, buyer: Party, supplier: Party) -> None:
    registered_contract(buyer, supplier)
    r = client.get("/log/proof/3")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    result = check_proof_file(r.text, ledger.verifier_key)
    assert result.index == 3


def test_export_is_the_bundle(client: TestClient, ledger: Ledger, buyer: Party, supplier: Party) -> None:
    registered_contract(buyer, supplier)
    r = client.get("/log/export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/jsonl"
    lines = [orjson.loads(line) for line in r.content.splitlines()]
    assert lines[0] == {
        "kind": "header",
        "format": "lvyue-bundle/v1",
        "origin": ledger.origin,
        "log_key": ledger.verifier_key,
    }
    assert lines[-1]["kind"] == "keys"
    entries = [x for x in lines if "index" in x]
    assert [e["index"] for e in entries] == list(range(ledger.size()))
    assert any(x.get("kind") == "checkpoint" for x in lines)
    assert r.content.splitlines()[1] == ledger.entry(0)
