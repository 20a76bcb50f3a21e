"""Cross-check with Go's golang.org/x/mod/sumdb/tlog and sumdb/note (tests/verifier/go/main.go).

Needs the ``go`` tool and the x/mod sources under /usr/share/gocode (Debian: golang-go,
golang-golang-x-mod-dev). Without them these tests fail: the Go cross-check is part of the suite.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from verifier.checkpoint import verify_cosignatures
from verifier.hashing import leaf_hash
from verifier.merkle import MemoryHashStore, prove_consistency, prove_inclusion
from verifier.note import Signer, open_note, sign_note, signer_key_string, verifier_key_string
from verifier.receipt import receipt_message

GOPATH = Path("/usr/share/gocode")
XMOD = GOPATH / "src" / "golang.org" / "x" / "mod" / "sumdb"
SOURCE = Path(__file__).resolve().parent / "go" / "main.go"
ROOT = Path(__file__).resolve().parents[2] / "docs" / "vectors"
MERKLE: dict[str, Any] = json.loads((ROOT / "merkle.json").read_text("utf-8"))
CP: dict[str, Any] = json.loads((ROOT / "checkpoint.json").read_text("utf-8"))
RECEIPT: dict[str, Any] = json.loads((ROOT / "receipt.json").read_text("utf-8"))
VKEY = CP["log"]["verifier_key"]

Run = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _hex_to_b64(hs: list[str]) -> list[str]:
    return [_b64(bytes.fromhex(h)) for h in hs]


@pytest.fixture(scope="module")
def go(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Build the Go checker once per session and return a function that runs a batch of requests."""
    go_bin = shutil.which("go")
    if go_bin is None:
        pytest.fail("the `go` tool is not installed (apt-get install golang-go): the Go cross-check cannot run")
    if not (XMOD / "tlog" / "tlog.go").is_file() or not (XMOD / "note" / "note.go").is_file():
        pytest.fail(f"golang.org/x/mod sources are missing under {XMOD} (apt-get install golang-golang-x-mod-dev)")
    work = tmp_path_factory.mktemp("go")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "GOPATH": str(GOPATH),
        "GO111MODULE": "off",
        "GOFLAGS": "",
        "GOCACHE": str(work / "cache"),
        "GOTMPDIR": "",
        "CGO_ENABLED": "0",
    }
    binary = work / "sumdbcheck"
    build = subprocess.run(
        [go_bin, "build", "-o", str(binary), str(SOURCE)],
        cwd=SOURCE.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if build.returncode != 0:
        pytest.fail(f"go build failed:\n{build.stdout}\n{build.stderr}")

    def run(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        proc = subprocess.run(
            [str(binary)],
            input=json.dumps(requests),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        results: list[dict[str, Any]] = json.loads(proc.stdout)
        assert len(results) == len(requests)
        return results

    return run


def test_go_builds_the_same_tree_and_proofs(go: Run) -> None:
    for entries in (
        [e.encode() for e in MERKLE["entries"]],
        [f"entry {i}".encode() for i in range(40)],
    ):
        (res,) = go([{"op": "tlog", "entries": [_b64(e) for e in entries]}])
        assert res["ok"], res
        store = MemoryHashStore()
        for e in entries:
            store.append_entry(e)
        assert res["stored"] == [_b64(h) for h in store.hashes]
        assert res["count"] == len(store.hashes)
        assert res["roots"] == [_b64(store.root(t)) for t in range(1, len(entries) + 1)]
        for t in range(1, len(entries) + 1):
            for n in range(t):
                assert res["records"][f"{t}/{n}"] == [_b64(h) for h in prove_inclusion(t, n, store.read)]
            for n in range(1, t + 1):
                assert res["trees"][f"{t}/{n}"] == [_b64(h) for h in prove_consistency(t, n, store.read)]


def test_go_accepts_vector_proofs_and_refuses_flipped_ones(go: Run) -> None:
    roots = _hex_to_b64(MERKLE["roots"])
    leaves = _hex_to_b64(MERKLE["leaf_hashes"])
    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    for v in MERKLE["inclusion"]:
        t, n, proof = v["tree_size"], v["index"], _hex_to_b64(v["proof"])
        req = {"op": "record", "t": t, "n": n, "root": roots[t], "leaf": leaves[n], "proof": proof}
        good.append(req)
        for i, h in enumerate(v["proof"]):
            for bit in range(0, 256, 5):
                raw = bytearray.fromhex(h)
                raw[bit // 8] ^= 1 << (bit % 8)
                bad.append(dict(req, proof=[*proof[:i], _b64(bytes(raw)), *proof[i + 1 :]]))
        if proof:
            bad.append(dict(req, proof=proof[:-1]))
        bad.append(dict(req, proof=[*proof, roots[1]]))
    for v in MERKLE["consistency"]:
        t, n, proof = v["new_size"], v["old_size"], _hex_to_b64(v["proof"])
        req = {"op": "tree", "t": t, "n": n, "root": roots[t], "old_root": roots[n], "proof": proof}
        good.append(req)
        for i, h in enumerate(v["proof"]):
            for bit in range(0, 256, 5):
                raw = bytearray.fromhex(h)
                raw[bit // 8] ^= 1 << (bit % 8)
                bad.append(dict(req, proof=[*proof[:i], _b64(bytes(raw)), *proof[i + 1 :]]))
        bad.append(dict(req, proof=[*proof, roots[1]]))
    results = go(good + bad)
    assert all(r["ok"] for r in results[: len(good)]), [r for r in results[: len(good)] if not r["ok"]][:3]
    assert not any(r["ok"] for r in results[len(good) :])


def test_go_opens_our_checkpoints(go: Run) -> None:
    notes = [CP["checkpoint"]["note"], CP["empty_checkpoint"]["note"], CP["cosigned"]["note"]]
    expect = [CP["checkpoint"], CP["empty_checkpoint"], CP["checkpoint"]]
    tampered = [
        CP["checkpoint"]["note"].replace("\n13\n", "\n14\n"),
        CP["cosigned"]["note"].replace("\n13\n", "\n12\n"),
    ]
    other = Signer(CP["log"]["origin"], hashlib.sha256(b"other").digest()).verifier_key()
    reqs = [{"op": "open", "note": n, "vkey": VKEY} for n in notes]
    reqs += [{"op": "open", "note": n, "vkey": VKEY} for n in tampered]
    reqs += [{"op": "open", "note": notes[0], "vkey": other}]
    results = go(reqs)
    for res, e in zip(results[:3], expect, strict=True):
        assert res["ok"], res
        assert (res["origin"], res["size"], res["root"]) == (CP["log"]["origin"], e["size"], e["root"])
    assert results[2]["unverified"] == 2
    assert not any(r["ok"] for r in results[3:])


def test_go_checks_our_proof_file(go: Run) -> None:
    text = CP["proof_file"]["text"]
    head, _, note = text.partition("\n\n")
    lines = head.split("\n")
    flipped = bytearray(base64.b64decode(lines[3]))
    flipped[0] ^= 1
    bad_hash = "\n".join([*lines[:3], _b64(bytes(flipped)), *lines[4:]]) + "\n\n" + note
    wrong_index = text.replace("\nindex 5\n", "\nindex 6\n")
    results = go([{"op": "prooffile", "text": t, "vkey": VKEY} for t in (text, bad_hash, wrong_index)])
    assert results[0]["ok"] and results[0]["index"] == CP["proof_file"]["index"], results[0]
    assert not results[1]["ok"] and not results[2]["ok"]


def test_go_checks_our_cosignatures(go: Run) -> None:
    note = CP["cosigned"]["note"]
    ws = CP["witnesses"]
    reqs = [{"op": "cosig", "note": note, "witness": w["verifier_key"]} for w in ws]
    reqs.append({"op": "cosig", "note": note.replace("\n13\n", "\n12\n"), "witness": ws[0]["verifier_key"]})
    results = go(reqs)
    assert [r.get("timestamp") for r in results[:2]] == CP["cosigned"]["timestamps"]
    assert not results[2]["ok"]  # witness 3 did not cosign
    assert not results[3]["ok"]
    assert verify_cosignatures(note, [w["verifier_key"] for w in ws]) == dict(
        zip(CP["cosigned"]["witnesses"], CP["cosigned"]["timestamps"], strict=True)
    )


def test_go_signs_and_names_keys_as_we_do(go: Run) -> None:
    reqs: list[dict[str, Any]] = []
    signers = []
    for i in range(8):
        seed = hashlib.sha256(f"go cross-check {i}".encode()).digest()
        name = f"log{i}.example/信用" if i % 2 else f"log{i}.example"
        signers.append((name, seed))
        reqs.append({"op": "sign", "skey": signer_key_string(name, seed), "text": f"hello {i}\nworld\n"})
        reqs.append({"op": "vkey", "name": name, "key": _b64(Signer(name, seed).public_key)})
    results = go(reqs)
    for i, (name, seed) in enumerate(signers):
        signed, vkey = results[2 * i], results[2 * i + 1]
        signer = Signer(name, seed)
        assert signed["ok"] and vkey["ok"], (signed, vkey)
        assert signed["note"] == sign_note(f"hello {i}\nworld\n", [signer])
        assert signed["hash"] == signer.key_id
        assert vkey["vkey"] == verifier_key_string(name, signer.public_key)
        assert open_note(signed["note"], [signer.verifier()]).text == f"hello {i}\nworld\n"


def test_go_verifies_our_receipt_signature(go: Run) -> None:
    r = RECEIPT["receipt"]
    msg = receipt_message(r["origin"], r["index"], r["entry_hash"])
    other = receipt_message(r["origin"], r["index"] + 1, r["entry_hash"])
    results = go(
        [
            {"op": "verify", "vkey": RECEIPT["verifier_key"], "msg": _b64(msg), "sig": r["signature"]},
            {"op": "verify", "vkey": RECEIPT["verifier_key"], "msg": _b64(other), "sig": r["signature"]},
        ]
    )
    assert results[0]["ok"], results[0]
    assert not results[1]["ok"]
    assert leaf_hash(MERKLE["entries"][r["index"]].encode()).hex() == MERKLE["leaf_hashes"][r["index"]]
