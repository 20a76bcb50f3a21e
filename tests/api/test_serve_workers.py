"""``lvyue serve --workers 2``: both workers take connections, each statement is committed once, SIGTERM stops
everything."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from ledger.client import sign
from ledger.parties import register
from ledger.service import Ledger
from ledger.settings import Settings
from verifier.identity import make_credit_code

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads sockets' owners from /proc")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _owners(port: int) -> set[int]:
    """The processes holding the server side of established connections to ``port``."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "01" and int(fields[1].split(":")[1], 16) == port:
            inodes.add(f"socket:[{fields[9]}]")
    owners = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    owners.add(int(pid))
        except OSError:
            continue
    return owners


def _children(pid: int) -> set[int]:
    found = set()
    for other in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{other}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(other))
    return found


def test_two_workers_share_the_connections_and_stop_on_sigterm(settings: Settings) -> None:
    ledger = Ledger.open(settings)
    try:
        maker = register(ledger, make_credit_code("91120113MA0000077"), "enterprise", "天津工作进程有限公司")
        authority = register(ledger, make_credit_code("11120113MB0000077"), "government", "北辰区工作进程局")
        body = {
            "kind": "approval_substitute",
            "authority": authority.subject,
            "content": "承诺事项",
            "made_on": "2026-01-05",
            "deadline": "2026-12-31",
            "related": None,
        }
        signed = [sign(maker.key, ledger.origin, "commitment.made", str(uuid.uuid4()), 1, body) for _ in range(16)]
        size = ledger.size()
    finally:
        ledger.close()
    port = _free_port()
    env = dict(os.environ, LVYUE_DATA_DIR=str(settings.data_dir), LVYUE_ORIGIN=settings.origin)
    if settings.database_url:
        env["LVYUE_DATABASE_URL"] = settings.database_url
    lvyue = str(Path(sys.executable).with_name("lvyue"))
    server = subprocess.Popen(
        [lvyue, "serve", "--port", str(port), "--workers", "2", "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) for _ in range(16)]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if clients[0].get("/log/size").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        workers = _children(server.pid) - {server.pid}
        # 16 connections opened at once, as a client's pool does: a worker woken for the first one would
        # accept them all from a shared socket
        burst = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        for conn in burst:
            conn.sendall(b"GET /log/size HTTP/1.1\r\nHost: x\r\n\r\n")
        for conn in burst:
            assert conn.recv(65536).startswith(b"HTTP/1.1 200")
        owners = _owners(port)
        assert owners <= workers
        assert len(owners) == 2, "every connection went to one worker"  # 2 in 65536 by chance
        for conn in burst:
            conn.close()
        for client, statement in zip(clients, signed, strict=True):
            assert client.post("/statements", json=statement).status_code == 201
        assert clients[0].get("/log/size").json()["size"] == size + 16
        replay = clients[1].post("/statements", json=signed[0])
        assert replay.status_code == 409
    finally:
        for client in clients:
            client.close()
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers):  # ended, then reaped by init
        assert time.monotonic() < deadline, "a worker outlived the server"
        time.sleep(0.1)
