"""The event store: the eventsourcing library's recorders, extended to chain entries inside their insert."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlparse

from eventsourcing.persistence import PersistenceError
from eventsourcing.utils import Environment

from ledger.settings import Settings
from ledger.store.base import LedgerStore


def _create_tables(recorder: Any) -> None:
    """Create the tables, retrying when another process creates them at the same moment (PostgreSQL's catalog
    refuses concurrent CREATE OR REPLACE with "tuple concurrently updated")."""
    for attempt in range(10):
        try:
            recorder.create_table()
            return
        except PersistenceError:
            if attempt == 9:
                raise
            time.sleep(0.05 * (attempt + 1))


def open_recorder(settings: Settings) -> LedgerStore:
    """The ledger's recorder for ``settings``: PostgreSQL when a database URL is set, else an SQLite file.

    Raises:
        ValueError: the database URL is not a postgresql:// URL.
    """
    if settings.database_url:
        from ledger.store.postgres import LedgerPostgresFactory, LedgerPostgresRecorder

        url = urlparse(settings.database_url)
        if url.scheme not in ("postgresql", "postgres"):
            raise ValueError(f"LVYUE_DATABASE_URL must be a postgresql:// URL, not {url.scheme}://")
        env = Environment(
            "",
            {
                "POSTGRES_DBNAME": url.path.lstrip("/") or "lvyue",
                "POSTGRES_HOST": url.hostname or "127.0.0.1",
                "POSTGRES_PORT": str(url.port or 5432),
                "POSTGRES_USER": url.username or "postgres",
                "POSTGRES_PASSWORD": url.password or "",
                "POSTGRES_POOL_SIZE": "5",
                "POSTGRES_MAX_OVERFLOW": "10",
                "POSTGRES_LOCK_TIMEOUT": "10",
                "CREATE_TABLE": "no",
            },
        )
        pg_recorder = LedgerPostgresFactory(env).application_recorder()
        assert isinstance(pg_recorder, LedgerPostgresRecorder)
        _create_tables(pg_recorder)
        return pg_recorder
    from ledger.store.sqlite import LedgerSQLiteFactory, LedgerSQLiteRecorder

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = Environment("", {"SQLITE_DBNAME": str(settings.sqlite_path), "SQLITE_LOCK_TIMEOUT": "30"})
    sqlite_recorder = LedgerSQLiteFactory(env).application_recorder()
    assert isinstance(sqlite_recorder, LedgerSQLiteRecorder)
    return sqlite_recorder
