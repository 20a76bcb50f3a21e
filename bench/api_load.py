"""Load test of the HTTP API: concurrent clients submit pre-signed statements while others read.

Builds a fresh ledger (SQLite in a temporary directory, or PostgreSQL when LVYUE_DATABASE_URL is set), registers
parties in-process, pre-signs one ``commitment.made`` per submission (each on its own aggregate), serves the API
with ``lvyue serve --workers N --no-access-log`` (``--workers``, default one per core; the projections are kept
current in its supervising process, as when an operator serves) and then, for ``--seconds``, runs ``--writers``
concurrent submitters and ``--readers`` readers (checkpoint, subject check and credit history in turn, each
``--read-rate`` requests per second, as offices and monitors poll; 0 for as fast as they can). Prints
submissions/s, p50/p99 latency and errors by status.

    .venv/bin/python bench/api_load.py --writers 10 --readers 4 --read-rate 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: bench.common

from bench.common import database
from ledger.client import sign
from ledger.parties import register
from ledger.service import Ledger
from ledger.settings import Settings
from verifier.identity import make_credit_code

AUDITOR_TOKEN = "bench-auditor"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(settings: Settings, parties: int, statements: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Register ``parties`` enterprises and one authority; pre-sign ``statements`` commitments."""
    ledger = Ledger.open(settings)
    try:
        authority = register(ledger, make_credit_code("11120113MB0009999"), "government", "市场监督管理局")
        makers = [
            register(ledger, make_credit_code(f"91120113MA{i:07d}"), "enterprise", f"企业{i}") for i in range(parties)
        ]
        signed = []
        for n in range(statements):
            maker = makers[n % parties]
            body = {
                "kind": "approval_substitute",
                "authority": authority.subject,
                "content": f"承诺事项 {n}",
                "made_on": "2026-01-05",
                "deadline": "2026-12-31",
                "related": None,
            }
            signed.append(sign(maker.key, ledger.origin, "commitment.made", str(uuid.uuid4()), 1, body))
        ledger.checkpoint()
        return signed, [m.subject for m in makers]
    finally:
        ledger.close()


async def writer(
    client: httpx.AsyncClient, queue: list[dict[str, Any]], stop: float, lat: list[float], errors: Counter[str]
) -> None:
    while queue and time.perf_counter() < stop:
        item = queue.pop()
        t = time.perf_counter()
        try:
            r = await client.post("/statements", json=item)
            status = str(r.status_code)
        except httpx.HTTPError as e:
            status = type(e).__name__
        lat.append(time.perf_counter() - t)
        if status != "201":
            errors[status] += 1


async def reader(
    client: httpx.AsyncClient,
    subjects: list[str],
    stop: float,
    lat: list[float],
    errors: Counter[str],
    read_rate: float = 0.0,
) -> None:
    headers = {"Authorization": f"Bearer {AUDITOR_TOKEN}"}
    while time.perf_counter() < stop:
        t = time.perf_counter()
        pick, subject = random.randrange(3), random.choice(subjects)
        if pick == 0:
            r = await client.get("/log/checkpoint", headers=headers)
        elif pick == 1:
            r = await client.get("/check", params={"codes": subject}, headers=headers)
        else:
            r = await client.get(f"/subjects/{subject}/history", headers=headers)
        lat.append(time.perf_counter() - t)
        if r.status_code != 200:
            errors[f"read {r.status_code}"] += 1
        if read_rate > 0:
            await asyncio.sleep(max(0.0, 1 / read_rate - (time.perf_counter() - t)))


def _read_rate(args: argparse.Namespace) -> str:
    return f"{args.read_rate:g} reads/s each" if args.read_rate > 0 else "full speed"


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (0..100) of ``values`` in milliseconds."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p / 100))] * 1000


async def run(url: str, signed: list[dict[str, Any]], subjects: list[str], args: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=args.writers + args.readers + 8)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        warm = signed[: args.writers]
        del signed[: args.writers]
        await asyncio.gather(*(client.post("/statements", json=s) for s in warm))
        write_lat: list[float] = []
        read_lat: list[float] = []
        errors: Counter[str] = Counter()
        start = time.perf_counter()
        stop = start + args.seconds
        await asyncio.gather(
            *(writer(client, signed, stop, write_lat, errors) for _ in range(args.writers)),
            *(reader(client, subjects, stop, read_lat, errors, args.read_rate) for _ in range(args.readers)),
        )
        elapsed = time.perf_counter() - start
        ok = len(write_lat) - sum(v for k, v in errors.items() if not k.startswith("read"))
        print(
            f"backend {args.backend}, workers {args.workers}, writers {args.writers}, readers {args.readers}"
            f" at {_read_rate(args)}"
        )
        print(f"submissions: {ok} accepted in {elapsed:.1f} s = {ok / elapsed:.0f} statements/s")
        print(
            f"submit latency: p50 {pct(write_lat, 50):.1f} ms, p99 {pct(write_lat, 99):.1f} ms, "
            f"max {pct(write_lat, 100):.1f} ms"
        )
        if read_lat:
            print(
                f"reads: {len(read_lat)} ({len(read_lat) / elapsed:.0f}/s), p50 {pct(read_lat, 50):.1f} ms, "
                f"p99 {pct(read_lat, 99):.1f} ms"
            )
        print(f"errors: {dict(errors) or 'none'}")
        size = (await client.get("/log/size")).json()["size"]
        print(f"log size after the run: {size}")
        if write_lat:
            print(f"mean submit latency {statistics.mean(write_lat) * 1000:.1f} ms")


def run_wrk(url: str, signed: list[dict[str, Any]], subjects: list[str], args: argparse.Namespace) -> None:
    """The same load from wrk (C, one process per role), so the client costs the two cores little."""
    here = Path(__file__).resolve().parent / "wrk"
    bodies = Path(tempfile.mkstemp(prefix="lvyue-bodies-", suffix=".jsonl")[1])
    bodies.write_text("\n".join(json.dumps(s, ensure_ascii=False, separators=(",", ":")) for s in signed) + "\n")
    threads = 2
    before = httpx.get(f"{url}/log/size").json()["size"]
    writers = subprocess.Popen(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(args.writers),
            "-d",
            f"{int(args.seconds)}s",
            "--latency",
            "-s",
            str(here / "submit.lua"),
            url,
            "--",
            str(bodies),
            str(threads),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    readers = None
    if args.readers:
        readers = subprocess.Popen(
            [
                "wrk",
                "-t",
                "1",
                "-c",
                str(args.readers),
                "-d",
                f"{int(args.seconds)}s",
                "--latency",
                "-s",
                str(here / "read.lua"),
                url,
                "--",
                AUDITOR_TOKEN,
                subjects[0],
                str(args.read_rate),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
    out, _ = writers.communicate()
    print(
        f"backend {args.backend}, workers {args.workers}, writers {args.writers} (wrk), readers {args.readers}"
        f" at {_read_rate(args)}"
    )
    print("-- submissions (POST /statements) --")
    print(out.strip())
    if readers is not None:
        rout, _ = readers.communicate()
        print("-- reads (GET /log/checkpoint, /check) --")
        print(rout.strip())
    size = httpx.get(f"{url}/log/size").json()["size"]
    print(f"log size after the run: {size}")
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    accepted = size - before
    print(
        f"accepted: {accepted} statements in {args.seconds:.0f} s = {accepted / args.seconds:,.0f} statements/s;"
        f" refused: {int(refused.group(1)) if refused else 0}"
    )
    if accepted >= len(signed):
        print(
            "warning: every prepared statement was accepted before the end, and wrk's rate above counts the replays"
            " refused after them: run again with more --statements"
        )
    bodies.unlink()


def main() -> None:
    """Parse arguments, prepare the ledger, serve it, run the load."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--statements",
        type=int,
        default=None,
        help="statements to pre-sign (default 2,500 per second of --seconds: more than the server accepts)",
    )
    p.add_argument("--parties", type=int, default=200)
    p.add_argument("--writers", type=int, default=32)
    p.add_argument("--readers", type=int, default=4)
    p.add_argument(
        "--read-rate",
        type=float,
        default=50.0,
        help="reads per second of each reader, alternating checkpoint and /check (0: as fast as they can)",
    )
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--client", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx")
    args = p.parse_args()
    if args.statements is None:
        args.statements = int(2500 * args.seconds)
    backend = "postgres" if os.environ.get("LVYUE_DATABASE_URL") else "sqlite"
    with database(backend) as (data_dir, database_url):  # a fresh store (on PostgreSQL, a database of its own)
        _serve_and_load(args, data_dir, database_url)


def python_loop_ms() -> float:
    """Milliseconds this machine takes for 3,000,000 iterations of a plain Python loop (best of three): the
    figures above are absolute, and a virtual machine's speed varies, so each run shows the speed it ran at."""
    best = float("inf")
    for _ in range(3):
        started, total = time.perf_counter(), 0
        for i in range(3_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best * 1000


def _serve_and_load(args: argparse.Namespace, data_dir: Path, database_url: str | None) -> None:
    print(f"machine speed: a 3,000,000-step Python loop takes {python_loop_ms():.0f} ms")
    args.backend = "postgres" if database_url else "sqlite"
    settings = Settings(data_dir=data_dir, database_url=database_url, origin="bench.lvyue.example/log")
    t = time.perf_counter()
    signed, subjects = prepare(settings, args.parties, args.statements)
    print(f"prepared {len(signed)} signed statements in {time.perf_counter() - t:.1f} s ({data_dir})")
    port = _free_port()
    env = dict(os.environ)
    if database_url:
        env["LVYUE_DATABASE_URL"] = database_url
    env.update(
        LVYUE_DATA_DIR=str(data_dir),
        LVYUE_ORIGIN=settings.origin,
        LVYUE_RATE="0",
        LVYUE_TOKENS=f"auditor={AUDITOR_TOKEN},operator=bench-operator,authority=bench-authority",
    )
    # served as an operator serves it: `lvyue serve` keeps the projections current (and issues the periodic
    # checkpoints) in its supervising process, its uvicorn workers answer the requests
    lvyue = str(Path(sys.executable).with_name("lvyue"))
    cmd = [lvyue, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)]
    cmd += ["--rate", "0", "--no-access-log"]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/log/size", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.1)
        if args.client == "wrk":
            run_wrk(url, signed, subjects, args)
        else:
            asyncio.run(run(url, signed, subjects, args))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
