"""The PostgreSQL backend: the eventsourcing library's PostgreSQL application recorder, chaining in its insert.

``append`` takes the library's EXCLUSIVE lock on the event table first (the same lock its own inserts take), then
reads the log's head, chains, and inserts, all in one transaction of two round trips (a pipeline: the lock and
every read, then every write and the commit). The ledger index is its own contiguous counter
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
from psycopg.rows import DictRow, tuple_row
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
    """The chain's reads and writes in a pipeline: every read in one statement sent with the lock
    (``prefetch``), every write in one statement that travels with the commit (``write``)."""

    def __init__(self, conn: Connection[DictRow], curs: Cursor[DictRow], recorder: LedgerPostgresRecorder) -> None:
        self.conn = conn
        self.curs = curs
        self.recorder = recorder
        self._reads: Cursor[tuple[Any, ...]] | None = None
        self._subjects: set[str] = set()
        self._pairs: set[tuple[str, str]] = set()
        self._heads: dict[str, int] = {}
        self._keys: dict[tuple[str, str], tuple[int, int | None]] = {}

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.curs.execute(_pg(sql), params)  # type: ignore[arg-type]
        return [tuple(row.values()) for row in self.curs.fetchall()]

    def prefetch(self, subjects: Iterable[str], pairs: Iterable[tuple[str, str]]) -> None:
        self._subjects, self._pairs = set(subjects), set(pairs)
        self._reads = self.conn.cursor(row_factory=tuple_row)
        self._reads.execute(
            _READS,
            (list(self._subjects), [s for s, _ in self._pairs], [k for _, k in self._pairs]),
            prepare=True,
        )

    def head(self) -> tuple[int, bytes | None]:
        assert self._reads is not None, "prefetch comes first"
        head: tuple[int, bytes | None] = (0, None)
        for kind, idx, data, subject, key_id, revoked_at in self._reads.fetchall():
            if kind == 0:
                head = (int(idx) + 1, bytes(data))
            elif kind == 1:
                self._heads[str(subject)] = int(idx)
            else:
                self._keys[(str(subject), str(key_id))] = (int(idx), None if revoked_at is None else int(revoked_at))
        self._reads = None
        return head

    def subject_heads(self, subjects: Iterable[str]) -> dict[str, int]:
        wanted = set(subjects)
        assert wanted <= self._subjects, "read by prefetch"
        return {s: self._heads[s] for s in wanted if s in self._heads}

    def key_validity(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int | None]]:
        wanted = set(pairs)
        assert wanted <= self._pairs, "read by prefetch"
        return {p: self._keys[p] for p in wanted if p in self._keys}

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        return schema.pick_hashes(
            indexes,
            lambda records: self._all("SELECT idx, nodes FROM lvyue_entries WHERE idx = ANY(?)", (records,)),
            lambda older: self._all("SELECT id, hash FROM lvyue_hashes WHERE id = ANY(?)", (older,)),
        )

    def write(self, events: Sequence[StoredEvent], writes: ChainWrites) -> None:
        """Queue the writes, not waited for here (the commit's round trip brings back any error): the events, their
        entries with their Merkle hashes, and the subject heads in one statement; keys and subjects, rarer, after it."""
        c = self.conn.cursor()
        c.execute(
            self.recorder.write_statement,
            (
                [e.originator_id for e in events],
                [e.originator_version for e in events],
                [e.topic for e in events],
                [e.state for e in events],
                [i for i, _, _ in writes.entries],
                [h for _, h, _ in writes.entries],
                [nodes for _, _, nodes in writes.entries],
                list(writes.heads),
                list(writes.heads.values()),
            ),
            prepare=True,
        )
        if writes.keys:
            c.executemany(_pg(schema.INSERT_KEY), writes.keys)
        if writes.revokes:
            c.executemany(_pg(schema.REVOKE_KEY), [(at, s, k) for s, k, at in writes.revokes])
        if writes.subjects:
            c.executemany(_pg(schema.INSERT_SUBJECT), writes.subjects)


_READS = (
    "(SELECT 0, idx, hash, NULL::text, NULL::text, NULL::bigint FROM lvyue_entries ORDER BY idx DESC LIMIT 1) "
    "UNION ALL SELECT 1, idx, NULL, subject, NULL, NULL FROM lvyue_subject_heads WHERE subject = ANY(%b::text[]) "
    "UNION ALL SELECT 2, bound_at, NULL, subject, key_id, revoked_at FROM lvyue_keys "
    "WHERE (subject, key_id) IN (SELECT * FROM unnest(%b::text[], %b::text[]))"
)
"""The head, the subject heads and the key validity an append needs, one row each (tagged 0, 1, 2)."""


class LedgerPostgresRecorder(LedgerStore, PostgresApplicationRecorder):
    """PostgreSQL application recorder whose ``append`` chains entries inside the insert transaction."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        table = f"{datastore.schema}.{events_table_name}" if datastore.schema else events_table_name
        self.entries_sql = (
            f"SELECT e.idx, s.state FROM lvyue_entries e JOIN {table} s ON s.notification_id = e.notification_id "
            "WHERE e.idx >= ? AND e.idx < ? ORDER BY e.idx"
        )
        # Every row of an append in one statement: the entries take the notification ids the events get, in the
        # order given. The arrays go in binary (%b): no text escaping of the entries' bytes.
        self.write_statement = SQL(
            "WITH x AS (SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[], %b::bigint[], "
            "%b::bytea[], %b::bytea[]) "
            "WITH ORDINALITY AS x(originator_id, originator_version, topic, state, idx, hash, nodes, n)), "
            "ev AS (INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT originator_id, originator_version, topic, state FROM x ORDER BY n "
            "RETURNING notification_id, originator_id, originator_version), "
            "s AS (INSERT INTO lvyue_subject_heads (subject, idx) SELECT * FROM unnest(%b::text[], %b::bigint[]) "
            "ON CONFLICT (subject) DO UPDATE SET idx = excluded.idx) "
            "INSERT INTO lvyue_entries (idx, notification_id, hash, nodes) "
            "SELECT x.idx, ev.notification_id, x.hash, x.nodes FROM x JOIN ev USING (originator_id, originator_version)"
        ).format(schema=Identifier(datastore.schema), table=Identifier(events_table_name))
        for statement in schema.create_statements("BYTEA", "BIGINT"):
            self.sql_create_statements.append(SQL(statement))  # type: ignore[arg-type]
        self.sql_create_statements.append(
            SQL(schema.ADD_NODES.format(if_not_exists="IF NOT EXISTS ", blob="BYTEA"))  # type: ignore[arg-type]
        )
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
