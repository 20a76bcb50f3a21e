"""``lvyue``: the platform's command line.

Every command acts on the store named by LVYUE_DATABASE_URL, or, when it is unset, on the SQLite store in
LVYUE_DATA_DIR (default ./lvyue-data). Commands are grouped by module: ``log`` (demo, export, checkpoint, log-key,
proof), ``serve`` (the HTTP API), ``party`` (a party's actions over HTTP with its key file), ``reports``
(projections, credit reports).
"""

from __future__ import annotations

import sys

import click

from ledger.cli import casework, log, party, reports, serve
from ledger.errors import LedgerError


@click.group()
@click.version_option(package_name="lvyue")
def cli() -> None:
    """lvyue 履约: a signed, hash-chained ledger of administrative contracts and credit commitments."""


for module in (log, serve, party, reports, casework):
    module.register(cli)


def main() -> None:
    """Entry point: run the command; a LedgerError prints its code and message and exits 1."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except LedgerError as e:
        click.echo(f"error [{e.code}]: {e}", err=True)
        sys.exit(1)
