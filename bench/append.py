"""Append throughput: signed statements checked, chained, Merkle-updated and committed per second.

Measured on SQLite (and PostgreSQL when LVYUE_DATABASE_URL is set), one and 100 statements per transaction, beside
plain eventsourcing saving the same aggregates (no signatures, no chain) on the same kind of database, and beside
this machine's raw Ed25519 verification rate on two threads, all in the same run. Statements are signed before the
clock starts: signing is the parties' work, not the log's.

    python -m bench.append [--single N] [--batched N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from bench.common import backends, database, raw_verify_rate
from ledger.client import KeyFile, sign
from ledger.group_commit import GroupCommit
from ledger.parties import register
from ledger.service import Ledger
from ledger.settings import Settings
from verifier.identity import make_credit_code

BODY = {
    "kind": "industry_self_discipline",
    "authority": "",
    "content": "承诺遵守行业自律公约，诚信经营",
    "made_on": "2026-01-10",
    "deadline": "2026-06-30",
    "related": None,
}


class PlainCommitment(Aggregate):
    """The same commitment as a plain eventsourcing aggregate."""

    def __init__(self, maker: str, body: dict[str, Any]) -> None:
        self.maker = maker
        self.body = body


class PlainApp(Application[uuid.UUID]):
    """Plain eventsourcing on the same database."""


def _plain_rate(backend: str, count: int, per_save: int) -> float:
    with database(backend) as (tmp, url):
        if url is None:
            env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp / "plain.sqlite3")}
        else:
            from urllib.parse import urlparse

            u = urlparse(url)
            env = {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": u.path.lstrip("/"),
                "POSTGRES_HOST": u.hostname or "127.0.0.1",
                "POSTGRES_PORT": str(u.port or 5432),
                "POSTGRES_USER": u.username or "postgres",
                "POSTGRES_PASSWORD": u.password or "",
            }
        app = PlainApp(env=env)
        aggregates = [PlainCommitment("91120113MA0000001X", dict(BODY)) for _ in range(count)]
        started = time.perf_counter()
        for i in range(0, count, per_save):
            app.save(*aggregates[i : i + per_save])
        elapsed = time.perf_counter() - started
        app.close()
        return count / elapsed


def _ledger_rate(backend: str, count: int, per_txn: int) -> float:
    with database(backend) as (tmp, url):
        ledger = Ledger.open(Settings(data_dir=tmp / "data", database_url=url, origin="bench.lvyue.example/log"))
        maker = register(ledger, make_credit_code("91120113MA0000001"), "enterprise", "天津基准测试有限公司")
        authority = register(ledger, make_credit_code("11120113MB0000001"), "government", "北辰区基准测试局")
        body = dict(BODY, authority=authority.subject)
        key: KeyFile = maker.key
        signed = [
            sign(key, ledger.origin, "commitment.made", str(uuid.uuid4()), 1, body, time="2026-01-10T02:00:00Z")
            for _ in range(count)
        ]
        started = time.perf_counter()
        if per_txn == 1:
            for s in signed:
                ledger.submit(s)
        else:
            for i in range(0, count, per_txn):
                ledger.submit_batch(signed[i : i + per_txn])
        elapsed = time.perf_counter() - started
        ledger.close()
        return count / elapsed


def _group_commit_rate(backend: str, count: int) -> float:
    """Single statements submitted by 32 threads at once through the group committer the API uses."""
    with database(backend) as (tmp, url):
        ledger = Ledger.open(Settings(data_dir=tmp / "data", database_url=url, origin="bench.lvyue.example/log"))
        maker = register(ledger, make_credit_code("91120113MA0000001"), "enterprise", "天津基准测试有限公司")
        authority = register(ledger, make_credit_code("11120113MB0000001"), "government", "北辰区基准测试局")
        body = dict(BODY, authority=authority.subject)
        signed = [
            sign(maker.key, ledger.origin, "commitment.made", str(uuid.uuid4()), 1, body, time="2026-01-10T02:00:00Z")
            for _ in range(count)
        ]
        group = GroupCommit(ledger)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=32) as pool:
            list(pool.map(group.submit, signed))
        elapsed = time.perf_counter() - started
        ledger.close()
        return count / elapsed


def _writer(
    settings: Settings, maker: dict[str, str], authority: str, count: int, per_txn: int, barrier: Any, out: Any
) -> None:
    ledger = Ledger.open(settings)
    key = KeyFile.from_json(maker)
    body = dict(BODY, authority=authority)
    signed = [
        sign(key, ledger.origin, "commitment.made", str(uuid.uuid4()), 1, body, time="2026-01-10T02:00:00Z")
        for _ in range(count)
    ]
    barrier.wait()
    started = time.perf_counter()
    for i in range(0, count, per_txn):
        ledger.submit_batch(signed[i : i + per_txn])
    out.put((started, time.perf_counter()))
    ledger.close()


def _ledger_rate_processes(backend: str, count: int, per_txn: int, processes: int = 2) -> float:
    """The same append, by ``processes`` writer processes at once (the chain is safe across processes)."""
    ctx = multiprocessing.get_context("spawn")
    with database(backend) as (tmp, url):
        settings = Settings(data_dir=tmp / "data", database_url=url, origin="bench.lvyue.example/log")
        ledger = Ledger.open(settings)
        maker = register(ledger, make_credit_code("91120113MA0000001"), "enterprise", "天津基准测试有限公司")
        authority = register(ledger, make_credit_code("11120113MB0000001"), "government", "北辰区基准测试局")
        ledger.close()
        barrier, out = ctx.Barrier(processes), ctx.Queue()
        share = count // processes
        workers = [
            ctx.Process(
                target=_writer, args=(settings, maker.key.to_json(), authority.subject, share, per_txn, barrier, out)
            )
            for _ in range(processes)
        ]
        for w in workers:
            w.start()
        spans = [out.get(timeout=600) for _ in workers]
        for w in workers:
            w.join()
        return share * processes / (max(e for _, e in spans) - min(s for s, _ in spans))


def main() -> None:
    """Run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=2000, help="statements at one per transaction")
    parser.add_argument("--batched", type=int, default=20000, help="statements at 100 per transaction")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds at one per transaction")
    args = parser.parse_args()
    raw2 = raw_verify_rate(2)
    raw1 = raw_verify_rate(1)
    print(f"raw Ed25519 verify: {raw1:,.0f}/s on one thread, {raw2:,.0f}/s on two")
    for backend in backends():
        # One commit per statement is bound by the disk's flush, which varies from second to second here:
        # alternate the two a few times and take each one's median.
        pairs = [
            (_plain_rate(backend, args.single, 1), _ledger_rate(backend, args.single, 1)) for _ in range(args.rounds)
        ]
        plain1 = statistics.median(p for p, _ in pairs)
        ours1 = statistics.median(o for _, o in pairs)
        plain100 = _plain_rate(backend, args.batched, 100)
        ours100 = _ledger_rate(backend, args.batched, 100)
        print(
            f"[{backend}] 1 per transaction:   lvyue {ours1:8,.0f}/s   plain eventsourcing {plain1:8,.0f}/s"
            f"   ratio {ours1 / plain1:5.2f} (target >= 0.60; medians of {args.rounds} alternating rounds)"
        )
        print(
            f"[{backend}] 100 per transaction: lvyue {ours100:8,.0f}/s   plain eventsourcing {plain100:8,.0f}/s"
            f"   ratio {ours100 / plain100:5.2f};  vs raw 2-thread Ed25519 {ours100 / raw2:5.2f} (target >= 0.50)"
        )
        grouped = _group_commit_rate(backend, args.single * 2)
        print(
            f"[{backend}] single statements, 32 threads, group commit (as POST /statements): lvyue {grouped:8,.0f}/s"
            f"   vs plain eventsourcing at 1 per save {grouped / plain1:5.2f}"
        )
        two = _ledger_rate_processes(backend, args.batched, 100)
        print(
            f"[{backend}] 100 per transaction, 2 writer processes: lvyue {two:8,.0f}/s"
            f"   vs raw 2-thread Ed25519 {two / raw2:5.2f} (target >= 0.50)"
        )


if __name__ == "__main__":
    main()
