"""The PostgreSQL backend: the eventsourcing library's PostgreSQL application recorder, chaining in its insert.

``append`` takes the library's EXCLUSIVE lock on the event table first (the same lock its own inserts take), then
reads the log's head, chains, and inserts, all in one transaction. The ledger index is its own contiguous counter
(``lvyue_entries.idx``): the event table's notification ids come from a sequence and have gaps after a rollback.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from ledger.store import chain, schema
from ledger.store.base import LedgerStore
from ledger.store.chain import Appended, BeforeCommit, ChainCache, ChainWrites, Pending


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class _PostgresChainTx:
    def __init__(self, curs: Cursor[DictRow], recorder: LedgerPostgresRecorder) -> None:
        self.curs = curs
        self.recorder = recorder

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.curs.execute(_pg(sql), params)  # type: ignore[arg-type]
        return [tuple(row.values()) for row in self.curs.fetchall()]

    def head(self) -> tuple[int, bytes | None]:
        rows = self._all(schema.HEAD)
        return (int(rows[0][0]) + 1, bytes(rows[0][1])) if rows else (0, None)

    def subject_heads(self, subjects: Iterable[str]) -> dict[str, int]:
        wanted = list(subjects)
        if not wanted:
            return {}
        rows = self._all("SELECT subject, idx FROM lvyue_subject_heads WHERE subject = ANY(?)", (wanted,))
        return {str(s): int(i) for s, i in rows}

    def key_validity(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int | None]]:
        wanted = list(pairs)
        if not wanted:
            return {}
        rows = self._all(
            "SELECT subject, key_id, bound_at, revoked_at FROM lvyue_keys "
            "WHERE (subject, key_id) IN (SELECT * FROM unnest(?::text[], ?::text[]))",
            ([s for s, _ in wanted], [k for _, k in wanted]),
        )
        return {(str(s), str(k)): (int(b), None if r is None else int(r)) for s, k, b, r in rows}

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        rows = self._all("SELECT id, hash FROM lvyue_hashes WHERE id = ANY(?)", (list(indexes),))
        found = {int(i): bytes(h) for i, h in rows}
        return [found[i] for i in indexes]

    def insert_events(self, events: Sequence[StoredEvent]) -> list[int]:
        rec = self.recorder
        pg_events = [
            rec.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state) for e in events
        ]
        self.curs.execute(rec.insert_returning_statement, (pg_events,))
        by_key = {(row["originator_id"], row["originator_version"]): row["notification_id"] for row in self.curs}
        return [int(by_key[(UUID(str(e.originator_id)), e.originator_version)]) for e in events]

    def write(self, writes: ChainWrites) -> None:
        c = self.curs
        c.executemany(_pg(schema.INSERT_ENTRY), writes.entries)
        c.executemany(_pg(schema.INSERT_HASH), list(writes.hashes.items()))
        c.executemany(_pg(schema.UPSERT_HEAD), list(writes.heads.items()))
        if writes.keys:
            c.executemany(_pg(schema.INSERT_KEY), writes.keys)
        if writes.revokes:
            c.executemany(_pg(schema.REVOKE_KEY), [(at, s, k) for s, k, at in writes.revokes])
        if writes.subjects:
            c.executemany(_pg(schema.INSERT_SUBJECT), writes.subjects)


class LedgerPostgresRecorder(LedgerStore, PostgresApplicationRecorder):
    """PostgreSQL application recorder whose ``append`` chains entries inside the insert transaction."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        table = f"{datastore.schema}.{events_table_name}" if datastore.schema else events_table_name
        self.entries_sql = (
            f"SELECT e.idx, s.state FROM lvyue_entries e JOIN {table} s ON s.notification_id = e.notification_id "
            "WHERE e.idx >= ? AND e.idx < ? ORDER BY e.idx"
        )
        self.insert_returning_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT originator_id, originator_version, topic, state FROM unnest(%s::{schema}.{type}[]) "
            "RETURNING notification_id, originator_id, originator_version"
        ).format(
            schema=Identifier(datastore.schema),
            table=Identifier(events_table_name),
            type=Identifier(self.stored_event_type_name),
        )
        for statement in schema.create_statements("BYTEA", "BIGINT"):
            self.sql_create_statements.append(SQL(statement))  # type: ignore[arg-type]
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
        with self._appending, self.datastore.get_connection() as conn:
            with conn.transaction(), conn.cursor() as curs:
                self._lock_table(curs)
                self._notify_channel(curs)
                tx, appended = chain.append_cached(
                    _PostgresChainTx(curs, self), self._chain_cache, pendings, before_commit
                )
            self._chain_cache.committed(tx, appended)
            return appended

    def select_entry_states(self, originator_id: UUID, gt: int) -> list[bytes]:
        return [bytes(e.state) for e in self.select_events(originator_id, gt=gt)]


class LedgerPostgresFactory(PostgresFactory):
    """eventsourcing infrastructure factory whose application recorder is the ledger's."""

    application_recorder_class = LedgerPostgresRecorder
