"""Benchmark: verify a large bundle and compare with this machine's raw Ed25519 verification rate.

    .venv/bin/python bench/verify_bundle.py [--entries N] [--workers W]

The bundle (default 1,000,000 entries) is generated once, directly with the verifier's own functions and real
Ed25519 signatures, and cached under bench/out/. The log is a realistic mix: organisations registered with
keys, two-party contracts proposed, consented, performed and confirmed, credit commitments made and kept,
occasional key rotations, a checkpoint every 100,000 entries and one at the end.

It verifies the bundle as ``lvyue-verify bundle`` does (worker processes, one per CPU unless ``--workers`` says
otherwise) and prints entries per second beside the raw rate of two threads calling nacl's VerifyKey.verify
(measured in the same run), their ratio, the peak resident memory of the verifying process and that of the
largest worker.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import nacl.signing
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from verifier.bundle import indexed_lines, verify_bundle  # noqa: E402
from verifier.checkpoint import Checkpoint, sign_checkpoint  # noqa: E402
from verifier.entry import encode_entry  # noqa: E402
from verifier.hashing import entry_hash, leaf_hash  # noqa: E402
from verifier.identity import key_id, log_aggregate, make_credit_code, subject_aggregate  # noqa: E402
from verifier.keys import KeyHistory  # noqa: E402
from verifier.merkle import CompactRange  # noqa: E402
from verifier.note import Signer, verifier_key_string  # noqa: E402
from verifier.statement import (  # noqa: E402
    b64encode,
    make_statement,
    public_key_of,
    sign_statement,
    terms_digest,
)

ORIGIN = "bench.lvyue.example/log"
TIME = "2026-02-10T02:00:00Z"
RECEIVED = "2026-02-10T02:00:01.000000Z"
CHECKPOINT_EVERY = 100_000


def _seed(label: str) -> bytes:
    return hashlib.sha256(b"lvyue bench " + label.encode()).digest()


LOG_SEED = _seed("log")
LOG_KEY = verifier_key_string(ORIGIN, public_key_of(LOG_SEED))


class _Party:
    def __init__(self, subject: str, generation: int = 0) -> None:
        self.subject = subject
        self.generation = generation
        self.seed = _seed(f"{subject}/{generation}")
        self.public_key = public_key_of(self.seed)
        self.key_id = key_id(self.public_key)


class _Writer:
    """Chains statements into entries, writes them and checkpoints, tracks keys and subject heads."""

    def __init__(self, out: IO[bytes], total: int) -> None:
        self.out = out
        self.total = total
        self.index = 0
        self.prev: bytes | None = None
        self.heads: dict[str, int] = {}
        self.versions: dict[str, int] = {}
        self.tree = CompactRange()
        self.keys = KeyHistory()
        self.log_signer = Signer(ORIGIN, LOG_SEED)

    def full(self) -> bool:
        return self.index >= self.total

    def add(
        self,
        party: _Party,
        type: str,
        aggregate: str,
        body: dict[str, Any],
        concerns: list[str],
        cosigners: tuple[_Party, ...] = (),
        key_seed: bytes | None = None,
        key_id: str | None = None,
    ) -> None:
        version = self.versions.get(aggregate, 0) + 1
        st = make_statement(type, ORIGIN, party.subject, key_id or party.key_id, aggregate, version, TIME, body)
        sigs = [sign_statement(st, party.subject, key_seed or party.seed)]
        sigs += [sign_statement(st, c.subject, c.seed) for c in cosigners]
        links = {s: self.heads.get(s) for s in sorted(set(concerns))}
        data = encode_entry(self.index, self.prev, links, st, sigs, RECEIVED)
        self.out.write(data + b"\n")
        self.tree.append(leaf_hash(data))
        self.prev = entry_hash(data)
        for s in links:
            self.heads[s] = self.index
        self.versions[aggregate] = version
        self.index += 1
        if self.index % CHECKPOINT_EVERY == 0 or self.index == self.total:
            note = sign_checkpoint(Checkpoint(ORIGIN, self.index, self.tree.root()), self.log_signer)
            self.out.write(orjson.dumps({"kind": "checkpoint", "note": note}) + b"\n")


def _terms(buyer: str, supplier: str, n: int) -> dict[str, Any]:
    return {
        "type": "government_procurement",
        "number": f"BC-2026-{n:07d}",
        "title": "办公设备采购",
        "parties": [{"subject": buyer, "role": "buyer"}, {"subject": supplier, "role": "supplier"}],
        "amount": 100000 + n % 1000,
        "currency": "CNY",
        "signed_on": "2026-01-05",
        "starts_on": "2026-01-05",
        "ends_on": "2026-12-31",
        "document_sha256": hashlib.sha256(f"doc {n}".encode()).hexdigest(),
        "disclose_amount": True,
        "milestones": [
            {
                "id": "m1",
                "obligor": supplier,
                "obligee": buyer,
                "due": "2026-03-01",
                "kind": "delivery",
                "amount": 0,
                "description": "交付",
            },
            {
                "id": "m2",
                "obligor": buyer,
                "obligee": supplier,
                "due": "2026-04-01",
                "kind": "payment",
                "amount": 100000 + n % 1000,
                "description": "付款",
            },
        ],
    }


def generate(path: Path, total: int) -> None:
    """Write a bundle of ``total`` entries to ``path`` (through a temporary file)."""
    operator = _Party(make_credit_code("12120113MB0000010"))
    authority = _Party(make_credit_code("11120113MB0000029"))
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        header = {"kind": "header", "format": "lvyue-bundle/v1", "origin": ORIGIN, "log_key": LOG_KEY}
        out.write(orjson.dumps(header) + b"\n")
        w = _Writer(out, total)
        genesis = {
            "log_key": b64encode(public_key_of(LOG_SEED)),
            "operator": {
                "subject": operator.subject,
                "name": "北辰区公共信用信息中心",
                "public_key": b64encode(operator.public_key),
            },
            "authority": {
                "subject": authority.subject,
                "name": "北辰区政务服务办公室身份核验窗口",
                "public_key": b64encode(authority.public_key),
            },
        }
        log_key_id = key_id(public_key_of(LOG_SEED))
        w.add(
            operator,
            "log.genesis",
            log_aggregate(ORIGIN),
            genesis,
            [operator.subject, authority.subject],
            key_seed=LOG_SEED,
            key_id=log_key_id,
        )
        w.keys.bind(operator.subject, operator.key_id, operator.public_key, 0)
        w.keys.bind(authority.subject, authority.key_id, authority.public_key, 0)
        for _ in _run(w, authority):
            pass
        out.write(orjson.dumps({"kind": "keys", "keys": w.keys.records()}) + b"\n")
    os.replace(tmp, path)


def _register(w: _Writer, authority: _Party, party: _Party, kind: str, name: str) -> None:
    agg = subject_aggregate(party.subject)
    body = {"subject": party.subject, "kind": kind, "name": name}
    w.add(authority, "subject.registered", agg, body, [party.subject, authority.subject])
    _bind(w, authority, party)


def _bind(w: _Writer, authority: _Party, party: _Party) -> None:
    body = {
        "subject": party.subject,
        "key_id": party.key_id,
        "public_key": b64encode(party.public_key),
        "algorithm": "ed25519",
    }
    w.add(authority, "key.bound", subject_aggregate(party.subject), body, [party.subject, authority.subject])
    w.keys.bind(party.subject, party.key_id, party.public_key, w.index - 1)


def _run(w: _Writer, authority: _Party) -> Iterator[None]:
    governments: list[_Party] = []
    enterprises: list[_Party] = []
    n = 0
    while not w.full():
        if len(governments) < 50 and n % 20 == 0:
            g = _Party(make_credit_code(f"11120113MB{len(governments) + 100:07d}"))
            _register(w, authority, g, "government", f"北辰区第{len(governments) + 1}局")
            governments.append(g)
        if len(enterprises) < 20_000 and n % 5 == 0:
            e = _Party(make_credit_code(f"91120113MA{len(enterprises) + 100:07d}"))
            _register(w, authority, e, "enterprise", f"天津北辰第{len(enterprises) + 1}有限公司")
            enterprises.append(e)
        g = governments[n % len(governments)]
        e = enterprises[(n * 7) % len(enterprises)]
        if n % 500 == 499:  # a key rotation: bind a new key, revoke the old one
            new = _Party(e.subject, e.generation + 1)
            _bind(w, authority, new)
            body = {"subject": e.subject, "key_id": e.key_id, "reason": "rotation"}
            w.add(authority, "key.revoked", subject_aggregate(e.subject), body, [e.subject, authority.subject])
            w.keys.revoke(e.subject, e.key_id, w.index - 1)
            enterprises[(n * 7) % len(enterprises)] = e = new
        if w.full():
            break
        cid = str(uuid.UUID(bytes=hashlib.sha256(f"contract {n}".encode()).digest()[:16], version=4))
        terms = _terms(g.subject, e.subject, n)
        parties = [g.subject, e.subject]
        steps: list[tuple[_Party, str, dict[str, Any]]] = [
            (g, "contract.proposed", {"terms": terms, "terms_digest": terms_digest(terms)}),
            (e, "contract.consented", {"terms_digest": terms_digest(terms)}),
            (
                e,
                "performance.reported",
                {
                    "milestone": "m1",
                    "outcome": "fulfilled",
                    "on": "2026-02-01",
                    "amount": 0,
                    "evidence_sha256": "ab" * 32,
                },
            ),
            (g, "performance.confirmed", {"milestone": "m1"}),
            (
                g,
                "performance.reported",
                {
                    "milestone": "m2",
                    "outcome": "fulfilled",
                    "on": "2026-02-05",
                    "amount": terms["amount"],
                    "evidence_sha256": "cd" * 32,
                },
            ),
            (e, "performance.confirmed", {"milestone": "m2"}),
        ]
        for party, type, body in steps:
            if w.full():
                break
            w.add(party, type, cid, body, parties)
        for k in range(2):
            if w.full():
                break
            mid = str(uuid.UUID(bytes=hashlib.sha256(f"commitment {n} {k}".encode()).digest()[:16], version=4))
            made = {
                "kind": "approval_substitute",
                "authority": g.subject,
                "content": "按期补交材料",
                "made_on": "2026-01-20",
                "deadline": "2026-03-20",
                "related": None,
            }
            w.add(e, "commitment.made", mid, made, [e.subject, g.subject])
            if not w.full():
                w.add(
                    g,
                    "commitment.kept",
                    mid,
                    {"on": "2026-02-08", "evidence_sha256": "ef" * 32},
                    [e.subject, g.subject],
                )
        n += 1
        yield


def raw_verify_rate(seconds: float = 2.0, threads: int = 2) -> float:
    """Ed25519 verifications per second of ``threads`` threads calling VerifyKey.verify."""
    key = nacl.signing.SigningKey(_seed("raw"))
    msg = b"lvyue/statement/v1\n" + b"x" * 600
    sig = key.sign(msg).signature
    vk = key.verify_key
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def run(slot: int) -> None:
        n = 0
        while time.perf_counter() < stop:
            for _ in range(100):
                vk.verify(msg, sig)
            n += 100
        counts[slot] = n

    started = time.perf_counter()
    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU)")
    args = parser.parse_args()
    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bundle-{args.entries}.jsonl"
    if not path.exists():
        t = time.perf_counter()
        print(f"generating {path} ...", flush=True)
        generate(path, args.entries)
        print(f"generated in {time.perf_counter() - t:.1f} s", flush=True)
    raw = raw_verify_rate(threads=2)
    with path.open("rb") as f, path.open("rb") as again:
        lines, entry_at = indexed_lines(f, again)  # as lvyue-verify reads a file: earlier entries read back
        summary = verify_bundle(lines, LOG_KEY, workers=args.workers, entry_at=entry_at)
    rate = summary.entries / summary.seconds
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"entries           {summary.entries}")
    print(f"checkpoints       {summary.checkpoints}")
    print(f"verify time       {summary.seconds:.2f} s")
    print(f"entries/s         {rate:,.0f}")
    print(f"raw Ed25519/s     {raw:,.0f}  (2 threads, VerifyKey.verify)")
    print(f"ratio             {rate / raw:.1%}")
    print(f"peak RSS          {peak:.0f} MiB (largest worker {worker_peak:.0f} MiB)")


if __name__ == "__main__":
    main()
