"""``lvyue-verify``: the auditor's command line (bundle, proof, receipt, monitor, report).

Exit status: 0 when everything verified, 1 on a verification failure (the first one is printed: kind, entry
index, expected and found), 2 on a usage or input/output error. ``--json`` prints one JSON object instead, with
at least ``ok`` and, on failure, ``kind`` and ``index``.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

import click
import orjson

from verifier.errors import VerificationError, VerifierError

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

_log_key = click.option("--log-key", "log_key", required=True, help="The log's verifier key (signed-note form).")
_json = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def _emit(obj: Mapping[str, Any]) -> None:
    click.echo(orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode("utf-8"))


def _fail(e: VerificationError, as_json: bool) -> NoReturn:
    if as_json:
        _emit(e.to_dict())
    else:
        where = f"entry {e.index}" if e.index is not None else "the log"
        click.echo(f"FAILED  {e.kind} at {where}", err=False)
        click.echo(f"  {e}")
        code = getattr(e, "code", None)
        if code:
            click.echo(f"  rule:     {code}")
        if e.expected is not None:
            click.echo(f"  expected: {_short(e.expected)}")
        if e.found is not None:
            click.echo(f"  found:    {_short(e.found)}")
    sys.exit(EXIT_FAILED)


def _io_error(message: str, as_json: bool) -> NoReturn:
    if as_json:
        _emit({"ok": False, "kind": "io", "index": None, "message": message})
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    return text if len(text) <= 300 else text[:297] + "..."


def _ok(lines: list[tuple[str, Any]], obj: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        _emit(obj)
        return
    click.echo("OK")
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        click.echo(f"  {k.ljust(width)}  {v}")


def _read(path: Path, as_json: bool) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        _io_error(f"cannot read {path}: {e.strerror or e}", as_json)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Verify a lvyue log: a whole bundle, a tlog-proof file, a receipt, a credit report, or follow it live."""


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_log_key
@click.option("--witness", "witnesses", multiple=True, help="A witness verifier key (repeatable).")
@click.option("--witness-threshold", type=click.IntRange(min=0), default=None, help="Cosignatures needed.")
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Worker processes checking entries and signatures (default: one per CPU; 0: none).",
)
@_json
def bundle(
    file: Path,
    log_key: str,
    witnesses: tuple[str, ...],
    witness_threshold: int | None,
    workers: int | None,
    as_json: bool,
) -> None:
    """Verify a whole bundle (every entry, checkpoint and the key history) against the log key."""
    from verifier.bundle import indexed_lines, verify_bundle

    threshold = len(witnesses) if witness_threshold is None else witness_threshold
    if threshold > len(witnesses):
        _io_error(f"--witness-threshold {threshold} is more than the {len(witnesses)} witnesses given", as_json)
    try:
        f = file.open("rb")
        total = file.stat().st_size
    except OSError as e:
        _io_error(f"cannot read {file}: {e.strerror or e}", as_json)
    try:
        with f, file.open("rb") as again, _progress(total, as_json) as progress:
            lines, entry_at = indexed_lines(f, again)
            summary = verify_bundle(
                lines,
                log_key,
                witnesses=witnesses,
                witness_threshold=threshold,
                progress=progress,
                workers=workers,
                entry_at=entry_at,
            )
    except VerificationError as e:
        _fail(e, as_json)
    except OSError as e:
        _io_error(f"cannot read {file}: {e.strerror or e}", as_json)
    rate = summary.entries / summary.seconds if summary.seconds > 0 else 0.0
    _ok(
        [
            ("origin", summary.origin),
            ("entries", summary.entries),
            ("subjects", summary.subjects),
            ("contracts", summary.contracts),
            ("commitments", summary.commitments),
            ("keys", summary.keys),
            ("checkpoints checked", summary.checkpoints),
            ("largest checkpoint", f"size {summary.tree_size}, root {summary.root}"),
            ("witnesses", ", ".join(f"{n} ({t})" for n, t in summary.witnesses.items()) or "-"),
            ("time taken", f"{summary.seconds:.2f} s ({rate:,.0f} entries/s)"),
        ],
        summary.to_dict(),
        as_json,
    )


class _progress:
    """A rich progress bar over the bundle's bytes when stdout is a terminal (and not --json)."""

    def __init__(self, total: int, as_json: bool) -> None:
        self.total = total
        self.enabled = not as_json and sys.stdout.isatty()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[int, int], None] | None:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("verifying"),
            BarColumn(),
            TextColumn("{task.fields[entries]:,} entries"),
            TimeRemainingColumn(),
            transient=True,
        )
        self._bar.__enter__()
        self._task = self._bar.add_task("verify", total=self.total or None, entries=0)

        def update(entries: int, bytes_read: int) -> None:
            self._bar.update(self._task, completed=bytes_read, entries=entries)

        return update

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_log_key
@_json
def proof(file: Path, log_key: str, as_json: bool) -> None:
    """Verify a c2sp.org/tlog-proof@v1 file: the entry is in the log under its signed checkpoint."""
    from verifier.proof_file import check_proof_file

    data = _read(file, as_json)
    try:
        result = check_proof_file(data, log_key)
    except VerificationError as e:
        _fail(e, as_json)
    cp = result.checkpoint.checkpoint
    root = cp.to_text().split("\n")[2]
    entry = orjson.loads(result.entry_bytes)
    statement = entry.get("statement", {}) if isinstance(entry, dict) else {}
    _ok(
        [
            ("entry", result.index),
            ("statement", f"{statement.get('type')} by {statement.get('actor')}"),
            ("checkpoint", f"{cp.origin}, size {cp.size}, root {root}"),
        ],
        {
            "ok": True,
            "index": result.index,
            "type": statement.get("type"),
            "origin": cp.origin,
            "tree_size": cp.size,
            "root": root,
        },
        as_json,
    )


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_log_key
@_json
def receipt(file: Path, log_key: str, as_json: bool) -> None:
    """Verify a receipt (the log's signed promise that it accepted a statement)."""
    from verifier.receipt import verify_receipt

    data = _read(file, as_json)
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        _fail(VerificationError("malformed", f"receipt is not JSON: {e}"), as_json)
    try:
        verify_receipt(obj, log_key)
    except VerificationError as e:
        _fail(e, as_json)
    _ok(
        [("origin", obj["origin"]), ("entry", obj["index"]), ("entry hash", obj["entry_hash"])],
        {"ok": True, "origin": obj["origin"], "index": obj["index"], "entry_hash": obj["entry_hash"]},
        as_json,
    )


@main.command()
@click.option("--url", required=True, help="Base URL of the log's HTTP API.")
@click.option("--state", "state_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@_log_key
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds per request.")
@_json
def monitor(url: str, state_dir: Path, log_key: str, timeout: float, as_json: bool) -> None:
    """Check the log's latest checkpoint extends the one accepted last time and replay every entry."""
    import httpx

    from verifier.monitor import FetchError, run_monitor

    try:
        with httpx.Client(base_url=url, timeout=timeout) as client:
            result = run_monitor(client, state_dir, log_key)
    except VerificationError as e:
        _fail(e, as_json)
    except FetchError as e:
        _io_error(str(e), as_json)
    _ok(
        [
            ("previous checkpoint", "none" if result.previous_size is None else f"size {result.previous_size}"),
            ("accepted checkpoint", f"size {result.size}, root {result.root}"),
            ("entries", result.size),
            ("subjects", result.subjects),
            ("contracts", result.contracts),
            ("commitments", result.commitments),
            ("time taken", f"{result.seconds:.2f} s"),
        ],
        result.to_dict(),
        as_json,
    )


@main.command("witness-key")
@click.argument("name")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Key file to write.")
def witness_key(name: str, out: Path) -> None:
    """Make a witness key named NAME; print its verifier key (give it to the log and to auditors)."""
    from verifier.witness import WitnessKey

    if out.exists():
        raise click.ClickException(f"{out} exists; not overwritten")
    key = WitnessKey.generate(name)
    key.save(out)
    click.echo(key.verifier_key)


@main.command()
@click.option("--url", required=True, help="Base URL of the log's HTTP API.")
@click.option("--state", "state_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@_log_key
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Witness key.")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds per request.")
@_json
def witness(url: str, state_dir: Path, log_key: str, key_file: Path, timeout: float, as_json: bool) -> None:
    """Check the log as the monitor does, then cosign its latest checkpoint and send the cosignature back."""
    import httpx

    from verifier.monitor import FetchError
    from verifier.witness import WitnessKey, witness_once

    try:
        key = WitnessKey.load(key_file)
        with httpx.Client(base_url=url, timeout=timeout) as client:
            result = witness_once(client, state_dir, log_key, key)
    except VerificationError as e:
        _fail(e, as_json)
    except (FetchError, VerifierError, OSError) as e:
        _io_error(str(e), as_json)
    _ok(
        [
            ("cosigned checkpoint", f"size {result.checked.size}, root {result.checked.root}"),
            ("witness", key.verifier_key),
            ("entries checked", result.checked.size),
        ],
        {**result.checked.to_dict(), "note": result.note},
        as_json,
    )


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_log_key
@_json
def report(file: Path, log_key: str, as_json: bool) -> None:
    """Verify a credit report: its entries, figures and grade recompute from the log."""
    try:
        from verifier.report import check_report  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        _io_error("this installation cannot check credit reports (verifier.report is missing)", as_json)
    data = _read(file, as_json)
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        _fail(VerificationError("malformed", f"report is not JSON: {e}"), as_json)
    try:
        summary = check_report(obj, log_key)
    except VerificationError as e:
        _fail(e, as_json)
    except VerifierError as e:
        _fail(VerificationError("malformed", f"report: {e}"), as_json)
    fields = _fields(summary)
    _ok([(k.replace("_", " "), _short(v)) for k, v in fields.items()], {"ok": True, **fields}, as_json)


def _fields(value: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return dict(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        out = to_dict()
        if isinstance(out, Mapping):
            return dict(out)
    return {"summary": str(value)}


if __name__ == "__main__":  # pragma: no cover
    main()
