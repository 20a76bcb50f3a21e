"""Worker processes for ``lvyue serve --workers N``, each listening on its own ``SO_REUSEPORT`` socket.

uvicorn's own multi-process mode shares one listening socket between its workers, and a worker that wakes up
for a new connection accepts every connection waiting at that moment. Clients that open a few long-lived
connections at once (a load balancer's upstream pool, an office system's HTTP client, a benchmark) therefore
often land all on one worker: it does all the work while the others idle. Here each worker binds its own socket
to the same address with ``SO_REUSEPORT``, and the kernel spreads new connections over the workers' sockets.

The supervising process (the caller of ``run_workers``) starts the workers, starts a new one in place of any that
ends unexpectedly, and on SIGINT or SIGTERM stops them all (SIGTERM: uvicorn's graceful shutdown) and returns.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import click

__all__ = ["listening_socket", "run_workers"]

APP = "api.main:app_from_env"
RESTART_PAUSE = 1.0  # seconds between the end of a worker and its replacement


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` with ``SO_REUSEPORT`` (and ``SO_REUSEADDR``), listening.

    Raises:
        OSError: the address cannot be bound (in use without ``SO_REUSEPORT``, or not this host's).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def _worker(host: str, port: int, access_log: bool) -> None:
    """One worker process: uvicorn serving the application of the LVYUE_* environment on its own socket."""
    import uvicorn

    sock = listening_socket(host, port)
    config = uvicorn.Config(APP, factory=True, access_log=access_log, host=host, port=port)
    uvicorn.Server(config).run(sockets=[sock])


def _projections() -> None:
    """The projections process: the poller that keeps the read models of the LVYUE_* ledger current."""
    from api.views import open_projections
    from ledger.service import Ledger
    from ledger.settings import Settings

    ledger = Ledger.open(Settings.from_env())
    open_projections(ledger).start_polling(ledger, interval=0.25).join()


def run_workers(host: str, port: int, workers: int, *, access_log: bool, projections: bool = False) -> None:
    """Serve with ``workers`` processes until SIGINT or SIGTERM (see the module docstring); with
    ``projections``, one more process keeps the read models current (its poller apart from the process that
    commits, so that the two do not share one interpreter lock).

    Raises:
        OSError: the address cannot be bound.
    """
    listening_socket(host, port).close()  # fail here, with the reason, if the address cannot be had
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    kinds = ["worker"] * workers + (["projections"] if projections else [])

    def start(kind: str) -> BaseProcess:
        if kind == "projections":
            process = context.Process(target=_projections, name="lvyue-projections", daemon=False)
        else:
            process = context.Process(target=_worker, args=(host, port, access_log), name="lvyue-worker", daemon=False)
        process.start()
        return process

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    processes = [start(kind) for kind in kinds]
    try:
        while not stopping.wait(0.2):
            for i, process in enumerate(processes):
                if not process.is_alive() and not stopping.is_set():
                    click.echo(f"{kinds[i]} {process.pid} ended ({process.exitcode}); starting another", err=True)
                    time.sleep(RESTART_PAUSE)
                    processes[i] = start(kinds[i])
    finally:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join()
        for s, handler in previous.items():
            signal.signal(s, handler)
