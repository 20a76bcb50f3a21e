"""``lvyue serve``: the HTTP API (uvicorn) on the Ledger opened from the settings, with periodic checkpoints and
one projections poller. With one worker, everything runs in this process; with ``--workers N``, this process
commits the statements every worker is sent (api.committer) and issues the checkpoints, one more process keeps
the projections current, and the N workers answer the requests (ledger.cli.workers)."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import click

from ledger.cli.workers import run_workers
from ledger.service import Ledger
from ledger.settings import Settings


def checkpoint_loop(ledger: Ledger, interval: float, stop: threading.Event) -> None:
    """Every ``interval`` seconds until ``stop`` is set, issue a checkpoint if the tree grew."""
    while not stop.wait(interval):
        try:
            ledger.checkpoint()
        except Exception as e:  # keep serving; the next round tries again
            click.echo(f"checkpoint failed: {e}", err=True)


def start_checkpoints(ledger: Ledger, interval: float) -> tuple[threading.Thread, threading.Event]:
    """Start the checkpoint thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=checkpoint_loop, args=(ledger, interval, stop), name="lvyue-checkpoints", daemon=True
    )
    thread.start()
    return thread, stop


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=int,
    help="Worker processes, each on its own SO_REUSEPORT socket (the chain is safe across them).",
)
@click.option(
    "--rate", default=20.0, show_default=True, help="Public reads per second per client address (0: no limit)."
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Log every request on standard output (role accesses are always kept in access-log.jsonl).",
)
def serve(host: str, port: int, workers: int, rate: float, access_log: bool) -> None:
    """Serve the HTTP API; print the URLs to open and, on first run, the role tokens (shown only once)."""
    import uvicorn

    from api.auth import issue_tokens
    from api.main import create_app
    from api.views import open_projections

    settings = Settings.from_env()
    ledger = Ledger.open(settings)
    projections = open_projections(ledger)
    poller = projections.start_polling(ledger, interval=0.25)
    try:
        tokens, new = issue_tokens(settings.data_dir)
        if new:
            click.echo("Role tokens (shown once; only their SHA-256 is kept in api-tokens.json):")
            for role, token in new.items():
                click.echo(f"  {role:<10} {token}")
        _thread, stop = start_checkpoints(ledger, settings.checkpoint_interval)
        base = f"http://{host}:{port}"
        click.echo(f"lvyue serving log {ledger.origin} ({ledger.size()} entries)")
        click.echo(f"  portal      {base}/")
        click.echo(f"  subjects    {base}/portal/subjects")
        click.echo(f"  indicators  {base}/indicators?by=month")
        click.echo(f"  API docs    {base}/docs")
        click.echo(f"  checkpoint  {base}/log/checkpoint")
        click.echo(f"  bundle      {base}/log/export")
        for row in [r for r in projections.subjects(limit=50) if not str(r["subject"]).startswith("psn:")][:1]:
            subject = row["subject"]
            click.echo(f"  e.g. lowest grade {row['grade']}: {base}/portal/subjects/{subject}")
            click.echo(f"       its report   {base}/subjects/{subject}/report.html")
        try:
            if workers > 1:
                # the workers read the projections another process keeps current, and hand the statements
                # they are sent to this process (api.committer)
                os.environ["LVYUE_RATE"] = str(rate)
                os.environ["LVYUE_PROJECTIONS_POLL"] = "0"
                from api.committer import CommitServer

                committer = CommitServer(ledger, _socket_path(settings))
                committer.start()
                os.environ["LVYUE_COMMITTER"] = str(committer.path)
                poller.stop()  # the projections process takes over
                try:
                    run_workers(host, port, workers, access_log=access_log, projections=True)
                finally:
                    committer.stop()
            else:
                app = create_app(ledger, tokens=tokens, rate=rate, projections=projections, poller=poller)
                uvicorn.run(app, host=host, port=port, access_log=access_log)
        finally:
            stop.set()
    finally:
        poller.stop()
        projections.close()
        ledger.close()


def _socket_path(settings: Settings) -> Path:
    """Where the commit socket goes: in the data directory, or in a fresh temporary one when that path would be
    too long for a Unix socket (about 100 bytes)."""
    path = settings.data_dir.resolve() / "commit.sock"
    if len(str(path)) < 100:
        return path
    return Path(tempfile.mkdtemp(prefix="lvyue-")) / "commit.sock"


def register(group: click.Group) -> None:
    """Add this module's commands to ``group``."""
    group.add_command(serve)
