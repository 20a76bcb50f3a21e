"""The ledger's own tables beside the event store's, and the SQL both backends share.

The event store's table (``stored_events``) holds each entry's bytes as the stored event's state; these tables
index it: the contiguous ledger index of each notification with the entry's hash and the Merkle tree's stored
hashes committed with it, each subject's latest entry, the key history and the registered subjects, and the
signed checkpoints. Statements are written with ``?`` placeholders; the PostgreSQL recorder rewrites them to
``%s``.

Stored Merkle hashes (numbered as Go's ``tlog`` numbers them) live in the row of the entry they were committed
with (``lvyue_entries.nodes``: the leaf hash, then the hash of each subtree the entry completes, 32 bytes each).
Entries appended before that column existed have ``nodes`` empty, and their hashes are rows of ``lvyue_hashes``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from verifier.hashing import HASH_SIZE
from verifier.merkle import split_stored_hash_index


def create_statements(blob: str, bigint: str, keyed: str = "") -> list[str]:
    """DDL for the ledger's tables, with the backend's type names for bytes and 64-bit integers, and ``keyed``
    after a table keyed by text (SQLite's ``WITHOUT ROWID``: one B-tree to write rather than a table and its
    index).

    Each append writes a row of ``lvyue_entries`` and of ``lvyue_subject_heads`` besides the event store's, so
    every B-tree here is a page more to write and flush per commit: ``notification_id`` is looked up only through
    the index of ``idx``, and has no index of its own, and the Merkle hashes go in the entry's row.
    """
    return [
        f"CREATE TABLE IF NOT EXISTS lvyue_entries (idx {bigint} PRIMARY KEY, "
        f"notification_id {bigint} NOT NULL, hash {blob} NOT NULL, nodes {blob})",
        f"CREATE TABLE IF NOT EXISTS lvyue_hashes (id {bigint} PRIMARY KEY, hash {blob} NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS lvyue_subject_heads (subject TEXT PRIMARY KEY, idx {bigint} NOT NULL){keyed}",
        f"CREATE TABLE IF NOT EXISTS lvyue_keys (subject TEXT NOT NULL, key_id TEXT NOT NULL, "
        f"public_key {blob} NOT NULL, bound_at {bigint} NOT NULL, revoked_at {bigint}, "
        "PRIMARY KEY (subject, key_id))",
        f"CREATE TABLE IF NOT EXISTS lvyue_subjects (subject TEXT PRIMARY KEY, kind TEXT NOT NULL, "
        f"registered_at {bigint} NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS lvyue_checkpoints (size {bigint} PRIMARY KEY, note TEXT NOT NULL, "
        "issued TEXT NOT NULL)",
    ]


HEAD = "SELECT idx, hash FROM lvyue_entries ORDER BY idx DESC LIMIT 1"
ADD_NODES = "ALTER TABLE lvyue_entries ADD COLUMN {if_not_exists}nodes {blob}"
"""Run on a ledger made before entries carried their Merkle hashes (its older entries keep theirs in
``lvyue_hashes``)."""
INSERT_ENTRY = "INSERT INTO lvyue_entries (idx, notification_id, hash, nodes) VALUES (?, ?, ?, ?)"
UPSERT_HEAD = (
    "INSERT INTO lvyue_subject_heads (subject, idx) VALUES (?, ?) "
    "ON CONFLICT (subject) DO UPDATE SET idx = excluded.idx"
)
INSERT_KEY = "INSERT INTO lvyue_keys (subject, key_id, public_key, bound_at, revoked_at) VALUES (?, ?, ?, ?, NULL)"
REVOKE_KEY = "UPDATE lvyue_keys SET revoked_at = ? WHERE subject = ? AND key_id = ?"
INSERT_SUBJECT = "INSERT INTO lvyue_subjects (subject, kind, registered_at) VALUES (?, ?, ?)"
INSERT_CHECKPOINT = "INSERT INTO lvyue_checkpoints (size, note, issued) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
LATEST_CHECKPOINT = "SELECT size, note FROM lvyue_checkpoints ORDER BY size DESC LIMIT 1"
CHECKPOINTS = "SELECT size, note FROM lvyue_checkpoints ORDER BY size"
CHECKPOINT_AT = "SELECT note FROM lvyue_checkpoints WHERE size = ?"
SIZE = "SELECT COALESCE(MAX(idx) + 1, 0) FROM lvyue_entries"
KEY = "SELECT public_key, bound_at, revoked_at FROM lvyue_keys WHERE subject = ? AND key_id = ?"
KEYS = "SELECT subject, key_id, public_key, bound_at, revoked_at FROM lvyue_keys ORDER BY bound_at, subject, key_id"
SUBJECT = "SELECT kind, registered_at FROM lvyue_subjects WHERE subject = ?"
SUBJECT_HEAD = "SELECT idx FROM lvyue_subject_heads WHERE subject = ?"


def in_list(column: str, count: int) -> str:
    """``column IN (?, ?, ...)`` with ``count`` placeholders."""
    return f"{column} IN ({', '.join('?' * count)})"


def record_and_level(stored: int) -> tuple[int, int]:
    """The entry a stored Merkle hash was committed with, and its level (its place in that entry's ``nodes``)."""
    level, n = split_stored_hash_index(stored)
    return ((n + 1) << level) - 1, level


def pick_hashes(
    indexes: Sequence[int],
    nodes_of: Callable[[list[int]], Iterable[tuple[int, bytes | None]]],
    legacy: Callable[[list[int]], Iterable[tuple[int, bytes]]],
) -> list[bytes]:
    """The stored Merkle hashes at ``indexes`` (a tlog HashReader), from the ``nodes`` of their entries, read by
    ``nodes_of(entry indexes)`` as (idx, nodes) rows, and for entries without them from ``legacy(stored
    indexes)``, read from ``lvyue_hashes`` as (id, hash) rows.

    Raises:
        KeyError: a hash that is not stored (the tree is smaller than asked).
    """
    where = {stored: record_and_level(stored) for stored in indexes}
    nodes: Mapping[int, bytes | None] = dict(nodes_of(sorted({record for record, _ in where.values()})))
    found: dict[int, bytes] = {}
    older: list[int] = []
    for stored, (record, level) in where.items():
        blob = nodes.get(record)
        if blob is not None and len(blob) >= (level + 1) * HASH_SIZE:
            found[stored] = bytes(blob[level * HASH_SIZE : (level + 1) * HASH_SIZE])
        else:
            older.append(stored)
    if older:
        found.update((int(i), bytes(h)) for i, h in legacy(older))
    return [found[i] for i in indexes]


def nodes_sql(count: int) -> str:
    """Select (idx, nodes) of ``count`` entries."""
    return f"SELECT idx, nodes FROM lvyue_entries WHERE {in_list('idx', count)}"


def legacy_hashes_sql(count: int) -> str:
    """Select (id, hash) of ``count`` stored hashes kept apart (entries appended before ``nodes``)."""
    return f"SELECT id, hash FROM lvyue_hashes WHERE {in_list('id', count)}"
