"""Benchmark: reading one subject's credit history from the projections, and building a report with proofs.

    .venv/bin/python bench/history_read.py                   # 1,000,000 entries (built once, cached)
    .venv/bin/python bench/history_read.py --entries 20000   # a quick run

The log is built once under bench/out/<entries>/ (SQLite; set LVYUE_DATABASE_URL to use PostgreSQL, then the
database must be empty or hold a previous bench log): subjects are registered, then contracts among them are
proposed, registered and performed (six entries each), statements pre-signed on a few threads and submitted in
batches of 100 with Ledger.submit_batch. The projections are brought up to date, then the script prints the
p50/p99 of reading one subject's history (``Projections.record``: the stored JSON by primary key, and
``Projections.history``: the same, as objects) beside a plain SELECT of the same row in the same run, and the
time to build a report with every inclusion proof.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger.client import KeyFile, sign
from ledger.projections import Projections
from ledger.reports import build_report
from ledger.service import Ledger
from ledger.settings import Settings
from verifier.identity import make_credit_code, subject_aggregate
from verifier.statement import b64encode, terms_digest

ENTRIES_PER_CONTRACT = 6
EVIDENCE = "cd" * 32


def credit_code(n: int) -> str:
    """The n-th enterprise credit code of the bench (valid check character)."""
    return make_credit_code(f"91110108MA{n:07d}")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _days_ago(n: int) -> str:
    return (datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=n)).isoformat()


def registrations(ledger: Ledger, keys: Sequence[KeyFile]) -> list[dict[str, Any]]:
    """The desk's statements registering each subject and binding its key."""
    authority = ledger.platform.authority
    out = []
    for key in keys:
        agg = subject_aggregate(key.subject)
        body = {"subject": key.subject, "kind": "enterprise", "name": f"企业{key.subject[-6:]}"}
        out.append(sign(authority, ledger.origin, "subject.registered", agg, 1, body))
        bound = {
            "subject": key.subject,
            "key_id": key.key_id,
            "public_key": b64encode(key.public_key),
            "algorithm": "ed25519",
        }
        out.append(sign(authority, ledger.origin, "key.bound", agg, 2, bound))
    return out


def contract_statements(origin: str, a: KeyFile, b: KeyFile, rng: random.Random) -> list[dict[str, Any]]:
    """Six signed statements of one contract: proposed, consented, two milestones reported and confirmed."""
    cid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    due1, due2 = _days_ago(rng.randint(30, 300)), _days_ago(rng.randint(1, 29))
    late = rng.random() < 0.2
    terms = {
        "type": rng.choice(["government_procurement", "investment_attraction", "ppp", "concession", "other"]),
        "number": f"B-{cid[:8]}",
        "title": "基准合同",
        "parties": [{"subject": a.subject, "role": "buyer"}, {"subject": b.subject, "role": "supplier"}],
        "amount": 200_000,
        "currency": "CNY",
        "signed_on": _days_ago(330),
        "starts_on": _days_ago(330),
        "ends_on": _days_ago(0),
        "document_sha256": EVIDENCE,
        "disclose_amount": True,
        "milestones": [
            {
                "id": "m1",
                "obligor": b.subject,
                "obligee": a.subject,
                "due": due1,
                "kind": "delivery",
                "amount": 100_000,
                "description": "交付",
            },
            {
                "id": "m2",
                "obligor": a.subject,
                "obligee": b.subject,
                "due": due2,
                "kind": "payment",
                "amount": 100_000,
                "description": "付款",
            },
        ],
    }
    digest = terms_digest(terms)
    on1 = _days_ago(max(0, int((datetime.date.today() - datetime.date.fromisoformat(due1)).days) - (-5 if late else 3)))
    report1 = {"milestone": "m1", "outcome": "fulfilled", "on": on1, "amount": 100_000, "evidence_sha256": EVIDENCE}
    report2 = {"milestone": "m2", "outcome": "fulfilled", "on": due2, "amount": 100_000, "evidence_sha256": EVIDENCE}
    t = _now()
    return [
        sign(a, origin, "contract.proposed", cid, 1, {"terms": terms, "terms_digest": digest}, time=t),
        sign(b, origin, "contract.consented", cid, 2, {"terms_digest": digest}, time=t),
        sign(b, origin, "performance.reported", cid, 3, report1, time=t),
        sign(a, origin, "performance.confirmed", cid, 4, {"milestone": "m1"}, time=t),
        sign(a, origin, "performance.reported", cid, 5, report2, time=t),
        sign(b, origin, "performance.confirmed", cid, 6, {"milestone": "m2"}, time=t),
    ]


def build_log(ledger: Ledger, entries: int, subjects: int, seed: int, threads: int) -> None:
    """Fill ``ledger`` up to about ``entries`` entries (nothing to do when it holds that many)."""
    marker = ledger.settings.data_dir / "bench-built"
    if marker.exists() or ledger.size() >= entries:
        return
    if ledger.size() > 1:
        raise SystemExit(f"the store holds {ledger.size()} entries, fewer than {entries}: remove it first")
    keys = [KeyFile.generate(credit_code(n)) for n in range(subjects)]
    submit(ledger, registrations(ledger, keys), "registering subjects")
    contracts = max(1, (entries - ledger.size()) // ENTRIES_PER_CONTRACT)
    group = 2000

    def make(start: int) -> list[dict[str, Any]]:
        rng = random.Random(seed * 1_000_003 + start)
        per_contract = []
        for _ in range(start, min(contracts, start + group)):
            a, b = rng.sample(keys, 2)
            per_contract.append(contract_statements(ledger.origin, a, b, rng))
        # version v of every contract of the group before version v + 1 of any
        return [c[v] for v in range(ENTRIES_PER_CONTRACT) for c in per_contract]

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for signed in pool.map(make, range(0, contracts, group)):
            submit(ledger, signed, f"contracts ({ledger.size():,} entries)")
    marker.write_text(f"{ledger.size()}\n", "utf-8")


def submit(ledger: Ledger, items: Sequence[dict[str, Any]], what: str) -> None:
    """Submit in batches of 100, printing progress."""
    t0 = time.perf_counter()
    for i in range(0, len(items), 100):
        ledger.submit_batch(items[i : i + 100])
    rate = len(items) / max(time.perf_counter() - t0, 1e-9)
    print(f"  {what}: {len(items):,} statements, {rate:,.0f}/s", file=sys.stderr)


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """``n`` wall-clock durations of ``fn()`` in seconds."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    """Build (or reuse) the log, update the projections, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=0, help="default: entries // 500, at least 50")
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--reports", type=int, default=5)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = parser.parse_args()
    subjects = args.subjects or max(50, args.entries // 500)

    settings = Settings.from_env(data_dir=args.out / str(args.entries), origin="bench.lvyue.example/log")
    ledger = Ledger.open(settings)
    t0 = time.perf_counter()
    build_log(ledger, args.entries, subjects, args.seed, args.threads)
    print(f"log: {ledger.size():,} entries ({time.perf_counter() - t0:.1f} s to build or open)", file=sys.stderr)
    projections = Projections.open(settings, ledger=ledger)
    t0 = time.perf_counter()
    applied = projections.run_once(
        ledger,
        batch=2000,
        progress=lambda done, total: print(f"\r  projecting {done:,}/{total:,}", end="", file=sys.stderr),
    )
    print(f"\nprojections: {applied:,} entries applied in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    projections.refresh(ledger)

    rng = random.Random(args.seed)
    names = [credit_code(rng.randrange(subjects)) for _ in range(args.reads)]
    it = itertools.cycle(names)
    plain_sql = text("SELECT history, grading FROM proj_subject_history WHERE subject = :s")
    with projections.engine.connect() as conn:

        def plain() -> object:
            return conn.execute(plain_sql, {"s": next(it)}).first()

        timed(plain, min(200, args.reads))  # warm up
        plain_ms = percentiles(timed(plain, args.reads))
    record_ms = percentiles(timed(lambda: projections.record(next(it)), args.reads))
    history_ms = percentiles(timed(lambda: projections.history(next(it)), args.reads))
    subject = names[0]
    chain = len(projections.subject_entries(subject))
    report_s = timed(lambda: build_report(ledger, projections, subject), args.reports)

    print(f"entries in log: {ledger.size():,}; subjects: {subjects:,}; chain of {subject}: {chain} entries")
    print(f"{'read':44} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'plain SELECT of the stored row':44} {plain_ms[0]:8.3f} {plain_ms[1]:8.3f}")
    print(f"{'Projections.record (stored JSON, parsed)':44} {record_ms[0]:8.3f} {record_ms[1]:8.3f}")
    print(f"{'Projections.history (History objects)':44} {history_ms[0]:8.3f} {history_ms[1]:8.3f}")
    print(
        f"report with {chain} inclusion proofs: median {statistics.median(report_s) * 1000:.1f} ms, "
        f"max {max(report_s) * 1000:.1f} ms over {len(report_s)} builds"
    )
    projections.close()
    ledger.close()


if __name__ == "__main__":
    main()
