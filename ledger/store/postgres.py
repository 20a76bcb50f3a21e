"""The PostgreSQL backend: the eventsourcing library's PostgreSQL application recorder, chaining in its insert.

``append`` takes the library's EXCLUSIVE lock on the event table first (the same lock its own inserts take), then
reads the log's head, chains, and inserts, all in one transaction. The ledger index is its own contiguous counter
(``lvyue_entries.idx``): the event table's notification ids come from a sequence and have gaps after a rollback.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from psycopg import Connection, Cursor
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Identifier

from ledger.store import chain, schema
from ledger.store.base import LedgerStore
from ledger.store.chain import Appended, BeforeCommit, ChainCache, ChainWrites, Pending

_BEGIN = b"BEGIN"
_COMMIT = b"COMMIT"


def _roll_back(conn: Connection[DictRow]) -> None:
    """End a failed append's transaction, if the server still has it open (the pool drops a broken
    connection)."""
    with contextlib.suppress(psycopg.Error):
        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute(b"ROLLBACK")


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class _PostgresChainTx:
    """The chain's reads and writes in a pipeline: the reads go in one round trip (``prefetch``), the writes are
    queued and travel with the commit."""

    def __init__(self, conn: Connection[DictRow], curs: Cursor[DictRow], recorder: LedgerPostgresRecorder) -> None:
        self.conn = conn
        self.curs = curs
        self.recorder = recorder
        self._head: Cursor[DictRow] | None = None
        self._subjects: tuple[set[str], Cursor[DictRow]] | None = None
        self._keys: tuple[set[tuple[str, str]], Cursor[DictRow]] | None = None

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.curs.execute(_pg(sql), params)  # type: ignore[arg-type]
        return [tuple(row.values()) for row in self.curs.fetchall()]

    def _send(self, sql: str, params: Sequence[Any] = ()) -> Cursor[DictRow]:
        curs = self.conn.cursor()
        curs.execute(_pg(sql), params, prepare=True)  # type: ignore[arg-type]
        return curs

    def prefetch(self, subjects: Iterable[str], pairs: Iterable[tuple[str, str]]) -> None:
        self._head = self._send(schema.HEAD)
        wanted = set(subjects)
        if wanted:
            self._subjects = (wanted, self._send(_SUBJECT_HEADS, (list(wanted),)))
        keys = set(pairs)
        if keys:
            self._keys = (keys, self._send(_KEY_VALIDITY, ([s for s, _ in keys], [k for _, k in keys])))

    def head(self) -> tuple[int, bytes | None]:
        curs, self._head = self._head, None
        rows = [tuple(r.values()) for r in curs.fetchall()] if curs is not None else self._all(schema.HEAD)
        return (int(rows[0][0]) + 1, bytes(rows[0][1])) if rows else (0, None)

    def subject_heads(self, subjects: Iterable[str]) -> dict[str, int]:
        wanted = set(subjects)
        if not wanted:
            return {}
        if self._subjects is not None and wanted <= self._subjects[0]:
            rows = [tuple(r.values()) for r in self._subjects[1].fetchall()]
            self._subjects = None
            return {str(s): int(i) for s, i in rows if s in wanted}
        return {str(s): int(i) for s, i in self._all(_SUBJECT_HEADS, (list(wanted),))}

    def key_validity(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int | None]]:
        wanted = set(pairs)
        if not wanted:
            return {}
        if self._keys is not None and wanted <= self._keys[0]:
            rows = [tuple(r.values()) for r in self._keys[1].fetchall()]
            self._keys = None
        else:
            rows = self._all(_KEY_VALIDITY, ([s for s, _ in wanted], [k for _, k in wanted]))
        return {(str(s), str(k)): (int(b), None if r is None else int(r)) for s, k, b, r in rows}

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        rows = self._all("SELECT id, hash FROM lvyue_hashes WHERE id = ANY(?)", (list(indexes),))
        found = {int(i): bytes(h) for i, h in rows}
        return [found[i] for i in indexes]

    def write(self, events: Sequence[StoredEvent], writes: ChainWrites) -> None:
        """Queue the writes: the events and their entries in one statement, then the hashes and subject heads;
        none of it is waited for here (the commit's round trip brings back any error)."""
        rec = self.recorder
        c = self.conn.cursor()
        c.execute(
            rec.insert_entries_statement,
            (
                [
                    rec.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
                    for e in events
                ],
                [e.originator_id for e in events],
                [e.originator_version for e in events],
                [i for i, _ in writes.entries],
                [h for _, h in writes.entries],
            ),
            prepare=True,
        )
        c.execute(_INSERT_HASHES, (list(writes.hashes), list(writes.hashes.values())), prepare=True)
        c.execute(_UPSERT_HEADS, (list(writes.heads), list(writes.heads.values())), prepare=True)
        if writes.keys:
            c.executemany(_pg(schema.INSERT_KEY), writes.keys)
        if writes.revokes:
            c.executemany(_pg(schema.REVOKE_KEY), [(at, s, k) for s, k, at in writes.revokes])
        if writes.subjects:
            c.executemany(_pg(schema.INSERT_SUBJECT), writes.subjects)


_SUBJECT_HEADS = "SELECT subject, idx FROM lvyue_subject_heads WHERE subject = ANY(?::text[])"
_KEY_VALIDITY = (
    "SELECT subject, key_id, bound_at, revoked_at FROM lvyue_keys "
    "WHERE (subject, key_id) IN (SELECT * FROM unnest(?::text[], ?::text[]))"
)
_INSERT_HASHES = "INSERT INTO lvyue_hashes (id, hash) SELECT * FROM unnest(%s::bigint[], %s::bytea[])"
_UPSERT_HEADS = (
    "INSERT INTO lvyue_subject_heads (subject, idx) SELECT * FROM unnest(%s::text[], %s::bigint[]) "
    "ON CONFLICT (subject) DO UPDATE SET idx = excluded.idx"
)


class LedgerPostgresRecorder(LedgerStore, PostgresApplicationRecorder):
    """PostgreSQL application recorder whose ``append`` chains entries inside the insert transaction."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        table = f"{datastore.schema}.{events_table_name}" if datastore.schema else events_table_name
        self.entries_sql = (
            f"SELECT e.idx, s.state FROM lvyue_entries e JOIN {table} s ON s.notification_id = e.notification_id "
            "WHERE e.idx >= ? AND e.idx < ? ORDER BY e.idx"
        )
        # The events and their entries in one statement: the entries take the notification ids the events get.
        self.insert_entries_statement = SQL(
            "WITH ev AS (INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT originator_id, originator_version, topic, state FROM unnest(%s::{schema}.{type}[]) "
            "RETURNING notification_id, originator_id, originator_version) "
            "INSERT INTO lvyue_entries (idx, notification_id, hash) SELECT x.idx, ev.notification_id, x.hash "
            "FROM unnest(%s::uuid[], %s::bigint[], %s::bigint[], %s::bytea[]) "
            "AS x(originator_id, originator_version, idx, hash) JOIN ev USING (originator_id, originator_version)"
        ).format(
            schema=Identifier(datastore.schema),
            table=Identifier(events_table_name),
            type=Identifier(self.stored_event_type_name),
        )
        for statement in schema.create_statements("BYTEA", "BIGINT"):
            self.sql_create_statements.append(SQL(statement))  # type: ignore[arg-type]
        self._lock_sql: list[str | bytes] | None = None
        self._notify_sql: bytes | None = None
        self._chain_cache = ChainCache()
        self._appending = threading.Lock()  # one append of this process at a time, so the cache follows them

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(_pg(sql), params)  # type: ignore[arg-type]
            return [tuple(row.values()) for row in curs.fetchall()]

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            curs.execute(_pg(sql), params)  # type: ignore[arg-type]

    def append(self, pendings: Sequence[Pending], before_commit: BeforeCommit | None = None) -> list[Appended]:
        """Two round trips, as the library's own insert: the transaction's start, the lock, the notification and
        every read the chain needs, sent together (the head's answer waited for); then the writes and the commit,
        whose answer brings back any error. The transaction is begun and ended by statements of its own rather
        than psycopg's transaction block, which would wait for the server at each of its edges."""
        with self._appending, self.datastore.get_connection() as conn:
            try:
                with conn.pipeline(), conn.cursor() as curs:
                    curs.execute(_BEGIN)
                    self._lock_table(curs)
                    self._notify_channel(curs)
                    tx, appended = chain.append_cached(
                        _PostgresChainTx(conn, curs, self), self._chain_cache, pendings, before_commit
                    )
                    curs.execute(_COMMIT)
            except BaseException:
                _roll_back(conn)
                raise
            self._chain_cache.committed(tx, appended)
            return appended

    def _lock_table(self, curs: Cursor[DictRow]) -> None:
        """The library's lock statements, rendered once."""
        if self._lock_sql is None:
            rendered: list[str | bytes] = []
            for s in self.lock_table_statements:
                if not isinstance(s, Composable | str | bytes):
                    raise TypeError(f"unexpected lock statement {s!r}")
                rendered.append(s.as_bytes(curs) if isinstance(s, Composable) else s)
            self._lock_sql = rendered
        for statement in self._lock_sql:
            curs.execute(statement, prepare=True)

    def _notify_channel(self, curs: Cursor[DictRow]) -> None:
        """The library's notification, rendered once."""
        if self._notify_sql is None:
            self._notify_sql = SQL("NOTIFY {0}").format(Identifier(self.channel_name)).as_bytes(curs)
        curs.execute(self._notify_sql)

    def select_entry_states(self, originator_id: UUID, gt: int) -> list[bytes]:
        return [bytes(e.state) for e in self.select_events(originator_id, gt=gt)]


class LedgerPostgresFactory(PostgresFactory):
    """eventsourcing infrastructure factory whose application recorder is the ledger's."""

    application_recorder_class = LedgerPostgresRecorder
