"""`lvyue` commands on the projections and credit reports: rebuild, grade, indicators, report."""

from __future__ import annotations

from pathlib import Path

import click
import orjson
from rich.console import Console
from rich.table import Table

from ledger.cli.log import progress_bar
from ledger.projections import Projections
from ledger.service import Ledger
from ledger.settings import Settings


def _bp(value: int | None) -> str:
    return "—" if value is None else f"{value / 100:.2f}%"


@click.command()
def rebuild() -> None:
    """Drop the projections and rebuild them from entry 0."""
    settings = Settings.from_env()
    ledger = Ledger.open(settings)
    projections = Projections.open(settings, ledger=ledger)
    try:
        with progress_bar() as bar:
            task = bar.add_task("rebuilding projections", total=ledger.size())
            applied = projections.rebuild(
                ledger, progress=lambda done, total: bar.update(task, completed=done, total=total)
            )
        click.echo(f"applied {applied} entries", err=True)
    finally:
        projections.close()
        ledger.close()


@click.command("grade")
@click.argument("subject")
@click.option("--as-of", "as_of", default=None, help="Date YYYY-MM-DD (default today).")
@click.option("--json", "as_json", is_flag=True, help="Print the grade as JSON.")
def grade_command(subject: str, as_of: str | None, as_json: bool) -> None:
    """Print SUBJECT's score, grade and the factors behind it."""
    settings = Settings.from_env()
    ledger = Ledger.open(settings)
    projections = Projections.open(settings, ledger=ledger)
    try:
        projections.run_once(ledger)
        graded = projections.grade(subject, as_of)
        if as_json:
            click.echo(orjson.dumps(graded.to_dict(), option=orjson.OPT_INDENT_2).decode())
            return
        click.echo(f"{subject}: {graded.grade} ({graded.score})")
        for f in graded.factors:
            click.echo(f"  {f.name:24} {f.points:+5d}  {f.explanation}")
    finally:
        projections.close()
        ledger.close()


@click.command()
@click.option(
    "--by",
    type=click.Choice(["month_type", "month", "type"]),
    default="month_type",
    show_default=True,
    help="Grouping.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def indicators(by: str, as_json: bool) -> None:
    """Print the platform indicators (contracts, co-confirmation, on-time performance, commitments)."""
    settings = Settings.from_env()
    ledger = Ledger.open(settings)
    projections = Projections.open(settings, ledger=ledger)
    try:
        projections.run_once(ledger)
        rows = projections.indicators(by)  # type: ignore[arg-type]
        if as_json:
            click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
            return
        table = Table(title="平台指标 platform indicators")
        keys = [k for k in ("month", "contract_type") if k in (rows[0] if rows else {"month": 1})]
        for k in keys:
            table.add_column(k)
        for col in ("registered", "co-confirmation", "on time", "commitments", "coverage", "kept/decided"):
            table.add_column(col, justify="right")
        for r in rows:
            table.add_row(
                *[str(r[k]) or "(subjects)" for k in keys],
                f"{r['contracts_registered']}/{r['contracts_proposed']}",
                _bp(r["co_confirmation_rate"]),
                _bp(r["on_time_rate"]),
                str(r["commitments_made"]),
                _bp(r["commitment_coverage"]),
                _bp(r["commitment_fulfilment_rate"]),
            )
        Console().print(table)
    finally:
        projections.close()
        ledger.close()


@click.command()
@click.argument("subject")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Report file (JSON).")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write HTML.")
@click.option("--as-of", "as_of", default=None, help="Date YYYY-MM-DD (default today).")
def report(subject: str, out: Path, html: Path | None, as_of: str | None) -> None:
    """Write SUBJECT's verifiable credit report (SUBJECT: a credit code or a pseudonym psn:...)."""
    from ledger.reports import build_report, render_html

    settings = Settings.from_env()
    ledger = Ledger.open(settings)
    projections = Projections.open(settings, ledger=ledger)
    try:
        projections.run_once(ledger)
        result = build_report(ledger, projections, subject, as_of)
        out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
        if html is not None:
            html.write_text(render_html(result), "utf-8")
        g = result["grade"]
        click.echo(f"{result['subject']}: {g['grade']} ({g['score']}), {len(result['entries'])} entries -> {out}")
    finally:
        projections.close()
        ledger.close()


def register(group: click.Group) -> None:
    """Add this module's commands to ``group``."""
    for command in (rebuild, grade_command, indicators, report):
        group.add_command(command)
