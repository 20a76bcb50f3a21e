"""Shared pieces for the benchmarks: the raw Ed25519 rate of this machine, timing, stores to measure on."""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import nacl.signing


def raw_verify_rate(threads: int = 2, seconds: float = 1.0) -> float:
    """Ed25519 verifications per second with ``threads`` threads calling PyNaCl (it releases the GIL)."""
    key = nacl.signing.SigningKey.generate()
    message = b"lvyue/statement/v1\n" + b"x" * 600
    signed = key.sign(message)
    verify = key.verify_key.verify
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def work(slot: int) -> None:
        n = 0
        while time.perf_counter() < stop:
            for _ in range(100):
                verify(signed.message, signed.signature)
            n += 100
        counts[slot] = n

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - started)


@contextmanager
def database(backend: str) -> Iterator[tuple[Path, str | None]]:
    """A fresh data directory and, for ``postgres``, a fresh database on LVYUE_DATABASE_URL's server."""
    with tempfile.TemporaryDirectory(prefix="lvyue-bench-") as tmp:
        if backend == "sqlite":
            yield Path(tmp), None
            return
        import psycopg

        base = os.environ["LVYUE_DATABASE_URL"]
        name = f"lvyue_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield Path(tmp), urlunparse(urlparse(base)._replace(path=f"/{name}"))
        finally:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def backends() -> list[str]:
    """SQLite always; PostgreSQL when LVYUE_DATABASE_URL names a server."""
    return ["sqlite", "postgres"] if os.environ.get("LVYUE_DATABASE_URL") else ["sqlite"]
