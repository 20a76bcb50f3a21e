"""POST /statements and /statements/batch: receipts, and every error status with its code."""

from __future__ import annotations

import base64
import copy
import uuid

from fastapi.testclient import TestClient

from ledger.client import KeyFile, sign
from ledger.parties import Party, bind_key, revoke_key
from ledger.service import Ledger
from tests.api.conftest import make_terms
from verifier.receipt import verify_receipt
from verifier.statement import terms_digest


def _proposal(buyer: Party, supplier: Party) -> tuple[str, dict]:
    cid = str(uuid.uuid4())
    terms = make_terms(buyer, supplier)
    return cid, buyer.statement("contract.proposed", cid, {"terms": terms, "terms_digest": terms_digest(terms)})


def test_submit_returns_a_verifiable_receipt(client: TestClient, ledger: Ledger, buyer: Party, supplier: Party) -> None:
    size = ledger.size()
    cid, signed = _proposal(buyer, supplier)
    r = client.post("/statements", json=signed)
    assert r.status_code == 201
    receipt = r.json()
    assert receipt["index"] == size and receipt["origin"] == ledger.origin
    verify_receipt(receipt, ledger.verifier_key)
    assert client.get(f"/aggregates/{cid}").json() == {"aggregate": cid, "version": 1}


def test_replay_is_a_version_conflict(client: TestClient, buyer: Party, supplier: Party) -> None:
    _cid, signed = _proposal(buyer, supplier)
    assert client.post("/statements", json=signed).status_code == 201
    r = client.post("/statements", json=signed)
    assert r.status_code == 409
    assert r.json()["code"] == "version_conflict"


def test_flipped_signature_bit_is_401(client: TestClient, ledger: Ledger, buyer: Party, supplier: Party) -> None:
    _cid, signed = _proposal(buyer, supplier)
    sig = bytearray(base64.b64decode(signed["signatures"][0]["sig"]))
    sig[0] ^= 1
    signed["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    size = ledger.size()
    r = client.post("/statements", json=signed)
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    assert ledger.size() == size


def test_changed_statement_is_401(client: TestClient, buyer: Party, supplier: Party) -> None:
    _cid, signed = _proposal(buyer, supplier)
    signed["statement"]["body"]["terms"]["title"] = "改过的标题"
    signed["statement"]["body"]["terms_digest"] = terms_digest(signed["statement"]["body"]["terms"])
    r = client.post("/statements", json=signed)
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"


def test_unknown_and_revoked_keys_are_401(client: TestClient, ledger: Ledger, buyer: Party, supplier: Party) -> None:
    stranger = KeyFile.generate(buyer.subject)
    cid = str(uuid.uuid4())
    terms = make_terms(buyer, supplier)
    body = {"terms": terms, "terms_digest": terms_digest(terms)}
    r = client.post("/statements", json=sign(stranger, ledger.origin, "contract.proposed", cid, 1, body))
    assert r.status_code == 401 and r.json()["code"] == "unknown_key"
    new_key = KeyFile.generate(buyer.subject)
    bind_key(ledger, buyer.subject, new_key)
    revoke_key(ledger, buyer.subject, buyer.key.key_id, "rotated")
    r = client.post("/statements", json=sign(buyer.key, ledger.origin, "contract.proposed", cid, 1, body))
    assert r.status_code == 401 and r.json()["code"] == "revoked_key"
    r = client.post("/statements", json=sign(new_key, ledger.origin, "contract.proposed", cid, 1, body))
    assert r.status_code == 201


def test_wrong_role_is_403_and_rule_violation_422(
    client: TestClient, ledger: Ledger, buyer: Party, supplier: Party
) -> None:
    cid = str(uuid.uuid4())
    body = {
        "kind": "approval_substitute",
        "authority": buyer.subject,
        "content": "按期补交材料",
        "made_on": "2026-01-05",
        "deadline": "2026-02-05",
        "related": None,
    }
    assert client.post("/statements", json=supplier.statement("commitment.made", cid, body)).status_code == 201
    kept = supplier.statement("commitment.kept", cid, {"on": "2026-01-10", "evidence_sha256": "cd" * 32})
    r = client.post("/statements", json=kept)
    assert r.status_code == 403 and r.json()["code"] == "wrong_role"
    cid2, signed = _proposal(buyer, supplier)
    assert client.post("/statements", json=signed).status_code == 201
    bad = supplier.statement("contract.consented", cid2, {"terms_digest": "00" * 32})
    r = client.post("/statements", json=bad)
    assert r.status_code == 422 and r.json()["code"] == "terms_mismatch"


def test_malformed_inputs_are_400(client: TestClient, ledger: Ledger, buyer: Party, supplier: Party) -> None:
    size = ledger.size()
    r = client.post("/statements", content=b'{"statement": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "malformed"
    r = client.post("/statements", json=[1, 2])
    assert r.status_code == 400
    _cid, signed = _proposal(buyer, supplier)
    extra = copy.deepcopy(signed)
    extra["extra"] = 1
    assert client.post("/statements", json=extra).status_code == 400
    wrong_type = copy.deepcopy(signed)
    wrong_type["statement"]["version"] = "1"
    r = client.post("/statements", json=wrong_type)
    assert r.status_code == 400 and r.json()["code"] == "malformed"
    no_sigs = copy.deepcopy(signed)
    no_sigs["signatures"] = []
    assert client.post("/statements", json=no_sigs).status_code == 400
    float_amount = copy.deepcopy(signed)
    float_amount["statement"]["body"]["terms"]["amount"] = 1.5
    assert client.post("/statements", json=float_amount).status_code == 400
    assert ledger.size() == size


def test_other_origin_is_refused(client: TestClient, buyer: Party, supplier: Party) -> None:
    cid = str(uuid.uuid4())
    terms = make_terms(buyer, supplier)
    body = {"terms": terms, "terms_digest": terms_digest(terms)}
    r = client.post("/statements", json=sign(buyer.key, "other.example/log", "contract.proposed", cid, 1, body))
    assert r.status_code == 422 and r.json()["code"] == "wrong_origin"


def test_batch_all_or_nothing(client: TestClient, ledger: Ledger, buyer: Party, supplier: Party) -> None:
    cid, proposal = _proposal(buyer, supplier)
    digest = proposal["statement"]["body"]["terms_digest"]
    consent = supplier.statement("contract.consented", cid, {"terms_digest": digest}, version=2)
    size = ledger.size()
    bad_consent = supplier.statement("contract.consented", cid, {"terms_digest": "00" * 32}, version=2)
    r = client.post("/statements/batch", json={"statements": [proposal, bad_consent]})
    assert r.status_code == 422 and r.json()["item"] == 1
    assert ledger.size() == size
    r = client.post("/statements/batch", json={"statements": [proposal, consent]})
    assert r.status_code == 201
    receipts = r.json()
    assert [x["index"] for x in receipts] == [size, size + 1]
    for receipt in receipts:
        verify_receipt(receipt, ledger.verifier_key)


def test_batch_limits(client: TestClient, buyer: Party, supplier: Party) -> None:
    assert client.post("/statements/batch", json={"statements": []}).status_code == 400
    _cid, signed = _proposal(buyer, supplier)
    r = client.post("/statements/batch", json={"statements": [signed] * 1001})
    assert r.status_code == 400 and r.json()["code"] == "malformed"
