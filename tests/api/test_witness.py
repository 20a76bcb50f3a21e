"""Witnesses (全节点见证): a witness checks the log, cosigns its checkpoint and returns the cosignature; the log
keeps cosignatures of its configured witnesses only, and they travel in the bundle to auditors."""

from __future__ import annotations

import base64
import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.auth import Tokens
from api.main import create_app
from ledger.service import Ledger
from ledger.settings import Settings
from tests.api.conftest import TOKENS
from tests.ledger.scenario import enterprise, government, registered_contract
from verifier.bundle import verify_bundle
from verifier.checkpoint import check_witness_policy, cosign
from verifier.monitor import FetchError
from verifier.witness import WitnessKey, witness_once

WITNESS = WitnessKey(name="witness.audit.example", seed=bytes(range(32)))


@pytest.fixture
def witnessed(settings: Settings, tmp_path: Path) -> Iterator[tuple[Ledger, TestClient]]:
    led = Ledger.open(dataclasses.replace(settings, witnesses=(WITNESS.verifier_key,)))
    app = create_app(led, tokens=Tokens.from_plain(TOKENS), rate=0, access_log=tmp_path / "access.jsonl")
    with TestClient(app) as client:
        yield led, client
    led.close()


def test_witness_cosigns_and_the_bundle_carries_it(witnessed: tuple[Ledger, TestClient], tmp_path: Path) -> None:
    led, client = witnessed
    buyer, supplier = government(led), enterprise(led)
    registered_contract(led, buyer, supplier)
    state = tmp_path / "witness-state"
    first = witness_once(client, state, led.verifier_key, WITNESS)
    assert first.checked.size == led.size()
    stored = dict(led.checkpoints())[led.size()]
    assert stored == first.note
    assert set(check_witness_policy(stored, [WITNESS.verifier_key], 1)) == {WITNESS.name}

    # The log grows; the witness checks the consistency proof from what it cosigned before, then cosigns again.
    registered_contract(led, buyer, supplier)
    second = witness_once(client, state, led.verifier_key, WITNESS)
    assert second.checked.previous_size == first.checked.size and second.checked.size == led.size()

    bundle = io.BytesIO()
    led.export(bundle)
    lines = bundle.getvalue().splitlines(keepends=True)
    assert any(b'"kind":"witness"' in line for line in lines)
    summary = verify_bundle(lines, led.verifier_key, witnesses=[WITNESS.verifier_key], witness_threshold=1)
    assert set(summary.witnesses) == {WITNESS.name}


def test_unknown_witness_and_wrong_checkpoint_are_refused(witnessed: tuple[Ledger, TestClient], tmp_path: Path) -> None:
    led, client = witnessed
    government(led)
    stranger = WitnessKey(name="stranger.example", seed=bytes(32))
    with pytest.raises(FetchError, match="403"):
        witness_once(client, tmp_path / "stranger", led.verifier_key, stranger)
    note = led.checkpoint()
    response = client.post("/log/cosignatures", json={"note": cosign(note, WITNESS.name, WITNESS.seed, 1)})
    assert response.status_code == 200
    # A note edited after the log signed it (another size) is not a checkpoint of this log.
    edited = cosign(note, WITNESS.name, WITNESS.seed, 1).replace(f"\n{led.size()}\n", f"\n{led.size() + 7}\n")
    response = client.post("/log/cosignatures", json={"note": edited})
    assert (response.status_code, response.json()["code"]) == (400, "checkpoint_signature")
    # A bad cosignature by the configured witness is refused and the stored note keeps the good one.
    good = dict(led.checkpoints())[led.size()]
    head, _, last = cosign(note, WITNESS.name, WITNESS.seed, 2).rstrip("\n").rpartition("\n")
    prefix, _, b64 = last.rpartition(" ")
    raw = bytearray(base64.b64decode(b64))
    raw[20] ^= 1  # a byte of the signature, after the key hash and the timestamp
    bad = f"{head}\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
    response = client.post("/log/cosignatures", json={"note": bad})
    assert (response.status_code, response.json()["code"]) == (422, "cosignature")
    assert dict(led.checkpoints())[led.size()] == good
    response = client.post("/log/cosignatures", json={"note": "not a note"})
    assert response.status_code == 400
