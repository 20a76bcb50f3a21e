"""The SQLite backend: the eventsourcing library's SQLite application recorder, chaining inside its insert.

Appends run in ``BEGIN IMMEDIATE`` transactions, so the database's write lock is held from the first read of the
log's head to the commit: two writers, in one process or several, can never chain onto the same head.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, StoredEvent
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteTransaction,
)
from eventsourcing.utils import Environment, EnvType

from ledger.store import chain, schema
from ledger.store.base import LedgerStore
from ledger.store.chain import Appended, BeforeCommit, ChainCache, ChainWrites, Pending
from ledger.store.write_lock import write_lock_for


class _ImmediateTransaction(SQLiteTransaction):
    """A write transaction that takes the database's write lock at BEGIN."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor


class _SQLiteChainTx:
    def __init__(self, cursor: SQLiteCursor, recorder: LedgerSQLiteRecorder, head: tuple[int, bytes] | None) -> None:
        self.c = cursor
        self.recorder = recorder
        self._head = head  # the head as this connection committed it, when nothing was committed since

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        self.c.execute(sql, params)
        return list(self.c.fetchall())

    def prefetch(self, subjects: Iterable[str], pairs: Iterable[tuple[str, str]]) -> None:
        pass  # each read is a call into the same process

    def head(self) -> tuple[int, bytes | None]:
        if self._head is not None:
            return self._head
        rows = self._all(schema.HEAD)
        return (int(rows[0][0]) + 1, bytes(rows[0][1])) if rows else (0, None)

    def subject_heads(self, subjects: Iterable[str]) -> dict[str, int]:
        wanted = list(subjects)
        if not wanted:
            return {}
        sql = f"SELECT subject, idx FROM lvyue_subject_heads WHERE {schema.in_list('subject', len(wanted))}"
        return {str(s): int(i) for s, i in self._all(sql, wanted)}

    def key_validity(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int | None]]:
        found: dict[tuple[str, str], tuple[int, int | None]] = {}
        for subject, key_id in pairs:
            for bound_at, revoked_at in self._all(
                "SELECT bound_at, revoked_at FROM lvyue_keys WHERE subject = ? AND key_id = ?",
                (subject, key_id),
            ):
                found[(subject, key_id)] = (int(bound_at), None if revoked_at is None else int(revoked_at))
        return found

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        return schema.pick_hashes(
            indexes,
            lambda records: self._all(schema.nodes_sql(len(records)), records),
            lambda older: self._all(schema.legacy_hashes_sql(len(older)), older),
        )

    def write(self, events: Sequence[StoredEvent], writes: ChainWrites) -> None:
        ids = self.recorder._insert_events(self.c, events)
        assert ids is not None
        entries = [(i, nid, digest, nodes) for (i, digest, nodes), nid in zip(writes.entries, ids, strict=True)]
        for sql, rows in (
            (schema.INSERT_ENTRY, entries),
            (schema.UPSERT_HEAD, list(writes.heads.items())),
            (schema.INSERT_KEY, writes.keys),
            (schema.REVOKE_KEY, [(at, s, k) for s, k, at in writes.revokes]),
            (schema.INSERT_SUBJECT, writes.subjects),
        ):
            if len(rows) == 1:
                self.c.execute(sql, rows[0])
            elif rows:
                self.c.executemany(sql, rows)


class LedgerSQLiteRecorder(LedgerStore, SQLiteApplicationRecorder):
    """SQLite application recorder whose ``append`` chains entries inside the insert transaction."""

    entries_sql = (
        "SELECT e.idx, s.state FROM lvyue_entries e JOIN stored_events s ON s.rowid = e.notification_id "
        "WHERE e.idx >= ? AND e.idx < ? ORDER BY e.idx"
    )

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name)
        assert events_table_name == "stored_events", "the ledger's queries name stored_events"
        pool = datastore.pool
        self._write_lock = None if pool.is_sqlite_memory_mode else write_lock_for(Path(pool.db_name))
        self._chain_cache = ChainCache()
        self._appending = threading.Lock()
        self._last_append: tuple[SQLiteConnection, int] | None = None  # its connection and data_version

    def _writing(self) -> contextlib.AbstractContextManager[None]:
        """Queue behind the other writers of the file (ledger.store.write_lock) for a write transaction."""
        return self._write_lock.held() if self._write_lock is not None else contextlib.nullcontext()

    def construct_create_table_statements(self) -> list[str]:
        ours = schema.create_statements("BLOB", "INTEGER", " WITHOUT ROWID")
        return [*super().construct_create_table_statements(), *ours]

    def _create_table(self, c: SQLiteCursor) -> None:
        """The tables, and in a ledger made before entries carried their Merkle hashes, the column for them."""
        super()._create_table(c)
        c.execute("PRAGMA table_info(lvyue_entries)")
        if "nodes" not in {str(row[1]) for row in c.fetchall()}:
            c.execute(schema.ADD_NODES.format(if_not_exists="", blob="BLOB"))

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, params)
            return [tuple(row) for row in c.fetchall()]

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._writing(), self.datastore.transaction(commit=True) as c:
            c.execute(sql, params)

    def append(self, pendings: Sequence[Pending], before_commit: BeforeCommit | None = None) -> list[Appended]:
        """Chain and insert ``pendings`` in one ``BEGIN IMMEDIATE`` transaction.

        The log's head is read from the table unless ``PRAGMA data_version`` shows that no other connection has
        committed since this one's last append (its own commits do not change the number): the head is then the
        one it committed, kept in the chain cache."""
        with self._appending, self._writing(), self._append_connection() as conn:
            with _ImmediateTransaction(conn, commit=True) as cursor, cursor:
                cursor.execute("PRAGMA data_version")
                version = (conn, int(cursor.fetchone()[0]))
                cache = self._chain_cache
                known = (cache.size, cache.last) if version == self._last_append and cache.last is not None else None
                tx, appended = chain.append_cached(_SQLiteChainTx(cursor, self, known), cache, pendings, before_commit)
            cache.committed(tx, appended)
            self._last_append = version
            return appended

    @contextlib.contextmanager
    def _append_connection(self) -> Iterator[SQLiteConnection]:
        """The connection appends use (under ``_appending`` and the file's write lock): one of the recorder's own,
        so an append does not go through the pool's reader-writer interlocking, which the write lock makes
        redundant. An in-memory database has no write lock and keeps to the pool."""
        pool = self.datastore.pool
        if self._write_lock is None or not isinstance(pool, _LedgerSQLitePool):
            with self.datastore.get_connection(commit=True) as conn:
                assert isinstance(conn, SQLiteConnection)
                yield conn
            return
        yield pool.appender()

    def select_entry_states(self, originator_id: UUID, gt: int) -> list[bytes]:
        return [bytes(e.state) for e in self.select_events(originator_id, gt=gt)]


PAGE_SIZE = 2048
"""The page size of a new ledger file. An append writes a page of each B-tree it changes (the event and its
index, the entry with its Merkle hashes, the subject heads), each a frame of the write-ahead log flushed at
commit: pages of 2 KiB still hold an entry (about 1 KiB) whole, and halve the bytes each commit writes and flushes
against SQLite's default of 4 KiB. Measured one statement per transaction: about 25 µs less an append (of about
550). A file made before keeps its page size (SQLite changes it only by a ``VACUUM`` outside WAL mode)."""

STATEMENT_CACHE = 128
"""Prepared statements kept per connection. The library opens its connections with a cache of one statement, so
an append, which runs about eight different statements, would parse every one of them again each time."""


class _LedgerSQLitePool(SQLiteConnectionPool):
    """The library's connection pool, with connections that keep their prepared statements, and one connection
    kept apart for the recorder's appends (``appender``), closed with the pool."""

    _appender: SQLiteConnection | None = None
    _appender_pid = 0

    def appender(self) -> SQLiteConnection:
        """The connection kept for appends (made on first use, and again in a forked child)."""
        if self._appender is None or self._appender_pid != os.getpid():
            self._appender = self._create_connection()
            self._appender_pid = os.getpid()
        return self._appender

    def close(self) -> None:
        super().close()
        if self._appender is not None and self._appender_pid == os.getpid():
            self._appender.close()
        self._appender = None

    def _create_connection(self) -> SQLiteConnection:
        try:
            c = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # autocommit: transactions are begun explicitly
                cached_statements=STATEMENT_CACHE,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as e:
            raise InterfaceError(e) from e
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            mode = c.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                c.execute(f"PRAGMA page_size={PAGE_SIZE}")  # takes effect only while the file is still empty
                c.execute("PRAGMA journal_mode=WAL")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        c.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=c, max_age=self.max_age)


class LedgerSQLiteFactory(SQLiteFactory):
    """eventsourcing infrastructure factory whose application recorder is the ledger's."""

    application_recorder_class = LedgerSQLiteRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        # The pool makes its connections on demand: none exists yet, so its class can still be chosen.
        self.datastore.pool.__class__ = _LedgerSQLitePool
