"""``lvyue`` casework commands: judgments (import, review, link), objections, repairs, the publicity clock,
indicators, persons' identities, webhook delivery, and ``follow`` (listen to a subscription from a terminal)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import httpx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ledger.service import Ledger
from ledger.settings import Settings


@contextmanager
def _ledger() -> Iterator[Ledger]:
    ledger = Ledger.open(Settings.from_env())
    try:
        yield ledger
    finally:
        ledger.close()


def _echo(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


@click.group("judgments")
def judgments_group() -> None:
    """Court judgments and arbitration awards."""


@judgments_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None, help="Default: by content.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the per-row report (JSON).")
def import_cmd(path: Path, fmt: str | None, report: Path | None) -> None:
    """Import judgments from a CSV or JSON Lines file; bad rows are refused with the reason, good rows kept."""
    from ledger.judgments import import_judgments, read_rows

    rows = list(read_rows(path.read_bytes(), fmt))
    with _ledger() as ledger:
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), disable=not sys.stderr.isatty()
        )
        with progress:
            task = progress.add_task("importing judgments", total=len(rows))
            result = import_judgments(ledger, rows, lambda n: progress.update(task, completed=n))
    out = result.to_dict()
    for r in result.rows:
        if r.status == "refused":
            click.echo(f"row {r.row}: refused [{r.code}] {r.reason}", err=True)
    if report is not None:
        report.write_text(json.dumps(out, ensure_ascii=False, indent=2), "utf-8")
    _echo(out["totals"])


@judgments_group.command("review")
def review_cmd() -> None:
    """List the judgments waiting in the review queue, with candidate contracts."""
    from ledger.judgments import review_queue

    with _ledger() as ledger:
        _echo(review_queue(ledger))


@judgments_group.command("link")
@click.argument("judgment")
@click.argument("contract")
def link_cmd(judgment: str, contract: str) -> None:
    """Link a judgment of the review queue to its contract and apply it."""
    from ledger.judgments import link_judgment

    with _ledger() as ledger:
        _echo(link_judgment(ledger, judgment, contract))


@click.group("objections")
def objections_group() -> None:
    """Objections (信用异议)."""


def _objection_policy(limit: int, holidays: Path | None) -> Any:
    from ledger.objections import Calendar, ObjectionPolicy

    return ObjectionPolicy(limit, Calendar.from_file(holidays))


@objections_group.command("list")
@click.option("--overdue", is_flag=True, help="Only undecided objections past their time limit.")
@click.option("--limit", default=15, show_default=True, help="Time limit in working days.")
@click.option("--holidays", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Holiday list.")
def objections_list(overdue: bool, limit: int, holidays: Path | None) -> None:
    """List objections with their due dates."""
    from ledger.objections import objections, overdue_objections

    policy = _objection_policy(limit, holidays)
    with _ledger() as ledger:
        _echo(overdue_objections(ledger, policy) if overdue else objections(ledger, policy))


@objections_group.command("decide")
@click.argument("objection")
@click.option("--uphold/--reject", required=True)
@click.option("--reason", required=True)
@click.option("--correction", help="What is corrected (required to uphold).")
def objections_decide(objection: str, uphold: bool, reason: str, correction: str | None) -> None:
    """Uphold or reject an objection."""
    from ledger.objections import decide_objection

    with _ledger() as ledger:
        _echo(decide_objection(ledger, objection, upheld=uphold, reason=reason, correction=correction))


@click.group("repairs")
def repairs_group() -> None:
    """Credit repair (信用修复) and the publicity clock."""


def _repair_policy(policy: Path | None) -> Any:
    from ledger.repair import RepairPolicy

    return RepairPolicy.from_file(policy)


_POLICY = click.option(
    "--policy", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Repair policy (JSON)."
)


@repairs_group.command("list")
@_POLICY
def repairs_list(policy: Path | None) -> None:
    """List repair cases."""
    from ledger.repair import repairs

    with _ledger() as ledger:
        _echo(repairs(ledger, _repair_policy(policy)))


@repairs_group.command("decide")
@click.argument("repair")
@click.option("--approve/--reject", required=True)
@click.option("--reason", required=True)
@_POLICY
def repairs_decide(repair: str, approve: bool, reason: str, policy: Path | None) -> None:
    """Approve (after the minimum publicity period) or reject a repair application."""
    from ledger.repair import decide_repair

    with _ledger() as ledger:
        _echo(decide_repair(ledger, repair, approve=approve, reason=reason, policy=_repair_policy(policy)))


@repairs_group.command("clock")
@click.option("--as-of", required=True, help="Date YYYY-MM-DD (not later than today).")
@_POLICY
def repairs_clock(as_of: str, policy: Path | None) -> None:
    """End the publicity of every record whose maximum period is over."""
    from ledger.repair import expire_publicity

    with _ledger() as ledger:
        click.echo(f"{len(expire_publicity(ledger, as_of, _repair_policy(policy)))} records withheld")


@click.command("casework-indicators")
@_POLICY
def indicators(policy: Path | None) -> None:
    """Objection rate, repair applications and pass rate, decisions within their time limits."""
    from ledger.objections import objection_indicators
    from ledger.repair import repair_indicators

    with _ledger() as ledger:
        _echo(
            {"objections": objection_indicators(ledger), "repairs": repair_indicators(ledger, _repair_policy(policy))}
        )


@click.group("person")
def person_group() -> None:
    """Persons' identities (encrypted, erasable)."""


@person_group.command("register")
@click.option("--name", required=True)
@click.option("--id-number", required=True)
def person_register(name: str, id_number: str) -> None:
    """Register a person; print the pseudonym."""
    from ledger.privacy import register_person

    with _ledger() as ledger:
        click.echo(register_person(ledger, name, id_number, who="cli"))


@person_group.command("read")
@click.argument("subject")
@click.option("--who", required=True)
@click.option("--role", type=click.Choice(["operator", "authority"]), required=True)
@click.option("--reason", required=True)
def person_read(subject: str, who: str, role: str, reason: str) -> None:
    """Read a person's identity (logged)."""
    from ledger.privacy import read_person

    with _ledger() as ledger:
        p = read_person(ledger, subject, who=who, role=role, reason=reason)
    _echo({"subject": p.pseudonym, "name": p.name, "id_number": p.id_number})


@person_group.command("erase")
@click.argument("subject")
@click.option("--who", required=True)
@click.option("--role", type=click.Choice(["operator", "authority"]), required=True)
@click.option("--reason", required=True)
def person_erase(subject: str, who: str, role: str, reason: str) -> None:
    """Crypto-shred a person's identity."""
    from ledger.privacy import erase_person

    with _ledger() as ledger:
        erase_person(ledger, subject, who=who, role=role, reason=reason)
    click.echo(f"{subject}: erased")


@click.group("push")
def push_group() -> None:
    """Webhook delivery of subscriptions."""


@push_group.command("run")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between rounds.")
@click.option("--once", is_flag=True, help="One round, then exit.")
def push_run(interval: float, once: bool) -> None:
    """Deliver subscribed events to their webhooks (signed, in order, retried with backoff)."""
    import time

    from ledger.push.webhook import Dispatcher

    with _ledger() as ledger:
        dispatcher = Dispatcher(ledger)
        while True:
            n = dispatcher.run_once()
            if n:
                click.echo(f"delivered {n} events", err=True)
            if once:
                return
            time.sleep(interval)


@click.command("follow")
@click.argument("subject")
@click.option("--server", required=True, envvar="LVYUE_SERVER", help="Base URL of the lvyue API.")
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--from", "start", type=int, default=None, help="First entry index (default: new entries only).")
@click.option("--limit", type=int, default=None, help="Stop after this many events.")
def follow(subject: str, server: str, key_path: Path, start: int | None, limit: int | None) -> None:
    """Follow SUBJECT and print its changes as they happen (server-sent events)."""
    from ledger.client import KeyFile
    from ledger.push.sse import parse_events
    from ledger.push.subscriptions import sign_follow_request

    key = KeyFile.load(key_path)
    base = server.rstrip("/")
    with httpx.Client(timeout=None) as client:
        r = client.post(f"{base}/push/subscriptions", json=sign_follow_request(key, subject, None, start))
        if r.status_code != 201:
            raise click.ClickException(f"follow refused: HTTP {r.status_code} {r.text}")
        sid = r.json()["id"]
        click.echo(f"following {subject} (subscription {sid})", err=True)
        params = {"limit": limit} if limit is not None else {}
        with client.stream("GET", f"{base}/push/subscriptions/{sid}/events", params=params) as resp:
            for index, data in parse_events(resp.iter_lines()):
                event = json.loads(data)
                click.echo(f"{index}\t{event['time']}\t{event['type']}\t{event['aggregate']}")


def register(group: click.Group) -> None:
    """Add the casework commands to the ``lvyue`` group."""
    for command in (judgments_group, objections_group, repairs_group, indicators, person_group, push_group, follow):
        group.add_command(command)
