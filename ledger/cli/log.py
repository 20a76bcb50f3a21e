"""``lvyue`` commands on the log itself: demo, export, checkpoint, log-key, proof."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ledger.service import Ledger
from ledger.settings import Settings


def progress_bar() -> Progress:
    """A progress bar on stderr (quiet when stderr is not a terminal)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=False,
        disable=not sys.stderr.isatty(),
    )


@click.command()
@click.option("--fresh", is_flag=True, help="Delete an existing SQLite demo store first.")
@click.option("--contracts", default=200, show_default=True, help="Number of contracts.")
@click.option("--seed", default=2026, show_default=True, help="Random seed (the same seed, the same story).")
def demo(fresh: bool, contracts: int, seed: int) -> None:
    """Build a demo ledger with realistic data, then print the log key and latest checkpoint."""
    from ledger.demo import build_demo

    settings = Settings.from_env()
    if fresh and settings.backend == "sqlite" and settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)
    ledger = Ledger.open(settings)
    try:
        with progress_bar() as bar:
            task = bar.add_task("building demo ledger", total=None)
            summary = build_demo(
                ledger,
                contracts=contracts,
                seed=seed,
                progress=lambda d, t: bar.update(task, completed=d, total=t),
            )
        for line in summary:
            click.echo(line)
        click.echo(f"log key: {ledger.verifier_key}")
        click.echo("latest checkpoint:")
        click.echo(ledger.checkpoint(), nl=False)
    finally:
        ledger.close()


@click.command()
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Bundle file.")
def export(out: Path) -> None:
    """Write the log as a bundle (JSON Lines) that verifies with no database."""
    ledger = Ledger.open()
    try:
        ledger.checkpoint()
        with out.open("wb") as f, progress_bar() as bar:
            task = bar.add_task("exporting", total=ledger.size())
            written = ledger.export(f, progress=lambda done, total: bar.update(task, completed=done, total=total))
        click.echo(f"wrote {written} entries to {out}", err=True)
    finally:
        ledger.close()


@click.command()
def checkpoint() -> None:
    """Print the latest signed checkpoint, issuing one first if the tree grew."""
    ledger = Ledger.open()
    try:
        click.echo(ledger.checkpoint(), nl=False)
    finally:
        ledger.close()


@click.command("log-key")
def log_key() -> None:
    """Print the log's verifier key (signed-note form name+hash+base64)."""
    ledger = Ledger.open()
    try:
        click.echo(ledger.verifier_key)
    finally:
        ledger.close()


@click.command()
@click.argument("index", type=int)
def proof(index: int) -> None:
    """Print entry INDEX's c2sp.org/tlog-proof@v1 file against the latest checkpoint."""
    ledger = Ledger.open()
    try:
        click.echo(ledger.tlog_proof(index), nl=False)
    finally:
        ledger.close()


def register(group: click.Group) -> None:
    """Add this module's commands to ``group``."""
    for command in (demo, export, checkpoint, log_key, proof):
        group.add_command(command)
