"""What the ledger reads and writes beyond the event store's own interface; shared by both backends.

A backend recorder subclasses the eventsourcing library's application recorder and this mixin, providing
``_rows`` (run a read query) and ``_execute`` (run a write in its own transaction), the SQL that joins the ledger
index to its event table (``entries_sql``), and ``append`` (chain a batch inside the insert transaction).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from ledger.errors import NotFound
from ledger.store import schema
from ledger.store.chain import Appended, BeforeCommit, Pending

PAGE = 1000


class LedgerStore:
    """Reads of the chained log; ``append`` and the two primitives come from the backend."""

    entries_sql: str = ""  # SELECT idx, state ... WHERE idx >= ? AND idx < ? ORDER BY idx

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def append(self, pendings: Sequence[Pending], before_commit: BeforeCommit | None = None) -> list[Appended]:
        """Chain and store ``pendings`` in one transaction, after the event table's write lock.

        ``before_commit`` is called with the entries once they are written, just before the commit (for
        example to start signing their receipts while the commit waits on the disk); if the commit then fails,
        the exception propagates and whatever it started must be dropped."""
        raise NotImplementedError

    def select_entry_states(self, originator_id: UUID, gt: int) -> list[bytes]:
        """The entry bytes of an aggregate's statements after version ``gt``, in version order."""
        raise NotImplementedError

    def size(self) -> int:
        """The number of entries in the log."""
        return int(self._rows(schema.SIZE)[0][0])

    def entries(self, start: int, stop: int) -> Iterator[tuple[int, bytes]]:
        """Entries ``start`` .. ``stop - 1`` as (index, bytes), read a page at a time."""
        while start < stop:
            page = self._rows(self.entries_sql, (start, min(stop, start + PAGE)))
            if not page:
                return
            for idx, state in page:
                yield int(idx), bytes(state)
            start = int(page[-1][0]) + 1

    def entry(self, index: int) -> bytes:
        """The bytes of entry ``index``.

        Raises:
            NotFound: no entry has that index.
        """
        for _, data in self.entries(index, index + 1):
            return data
        raise NotFound(f"no entry {index}", code="no_entry", index=index)

    def entries_at(self, indexes: Sequence[int]) -> dict[int, bytes]:
        """The entries at ``indexes`` that exist, as {index: bytes}, read 500 at a time."""
        found: dict[int, bytes] = {}
        base = self.entries_sql.split(" WHERE ")[0]
        for start in range(0, len(indexes), 500):
            chunk = list(indexes[start : start + 500])
            sql = f"{base} WHERE {schema.in_list('e.idx', len(chunk))}"
            found.update((int(i), bytes(state)) for i, state in self._rows(sql, chunk))
        return found

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        """Stored Merkle hashes by stored index (a tlog HashReader)."""
        found: list[bytes] = []
        for chunk_start in range(0, len(indexes), 500):
            found += schema.pick_hashes(
                indexes[chunk_start : chunk_start + 500],
                lambda records: self._rows(schema.nodes_sql(len(records)), records),
                lambda older: self._rows(schema.legacy_hashes_sql(len(older)), older),
            )
        return found

    def key(self, subject: str, key_id: str) -> tuple[bytes, int, int | None] | None:
        """(public key, bound_at, revoked_at) of a key bound to ``subject``, or None."""
        rows = self._rows(schema.KEY, (subject, key_id))
        if not rows:
            return None
        public_key, bound_at, revoked_at = rows[0]
        return bytes(public_key), int(bound_at), None if revoked_at is None else int(revoked_at)

    def key_history(self) -> list[tuple[str, str, bytes, int, int | None]]:
        """The whole key history, in binding order."""
        return [(s, k, bytes(pk), int(b), None if r is None else int(r)) for s, k, pk, b, r in self._rows(schema.KEYS)]

    def subject(self, subject: str) -> tuple[str, int] | None:
        """(kind, registering index) of a registered subject, or None."""
        rows = self._rows(schema.SUBJECT, (subject,))
        return (str(rows[0][0]), int(rows[0][1])) if rows else None

    def subject_head(self, subject: str) -> int | None:
        """The index of the latest entry concerning ``subject``, or None."""
        rows = self._rows(schema.SUBJECT_HEAD, (subject,))
        return int(rows[0][0]) if rows else None

    def latest_checkpoint(self) -> tuple[int, str] | None:
        """(size, signed note) of the largest stored checkpoint, or None."""
        rows = self._rows(schema.LATEST_CHECKPOINT)
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def checkpoints(self) -> list[tuple[int, str]]:
        """Every stored checkpoint, by size."""
        return [(int(size), str(note)) for size, note in self._rows(schema.CHECKPOINTS)]

    def checkpoint_at(self, size: int) -> str | None:
        """The stored checkpoint of exactly ``size``, or None."""
        rows = self._rows(schema.CHECKPOINT_AT, (size,))
        return str(rows[0][0]) if rows else None

    def replace_checkpoint(self, size: int, note: str) -> None:
        """Store ``note`` (the same checkpoint with more cosignatures) in place of the one of that size."""
        self._execute("UPDATE lvyue_checkpoints SET note = ? WHERE size = ?", (note, size))

    def add_checkpoint(self, size: int, note: str, issued: str) -> str:
        """Store a checkpoint unless one of that size exists; return the stored one."""
        self._execute(schema.INSERT_CHECKPOINT, (size, note, issued))
        stored = self.checkpoint_at(size)
        assert stored is not None
        return stored
