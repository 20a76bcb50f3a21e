"""The ledger's own tables beside the event store's, and the SQL both backends share.

The event store's table (``stored_events``) holds each entry's bytes as the stored event's state; these tables
index it: the contiguous ledger index of each notification, the Merkle tree's stored hashes, each subject's latest
entry, the key history and the registered subjects, and the signed checkpoints. Statements are written with ``?``
placeholders; the PostgreSQL recorder rewrites them to ``%s``.
"""

from __future__ import annotations


def create_statements(blob: str, bigint: str, keyed: str = "") -> list[str]:
    """DDL for the ledger's tables, with the backend's type names for bytes and 64-bit integers, and ``keyed``
    after a table keyed by text (SQLite's ``WITHOUT ROWID``: one B-tree to write rather than a table and its
    index).

    Each append writes a row of ``lvyue_entries``, ``lvyue_hashes`` and ``lvyue_subject_heads`` besides the event
    store's, so every B-tree here is a page more to write and flush per commit: ``notification_id`` is looked up
    only through the index of ``idx``, and has no index of its own.
    """
    return [
        f"CREATE TABLE IF NOT EXISTS lvyue_entries (idx {bigint} PRIMARY KEY, "
        f"notification_id {bigint} NOT NULL, hash {blob} NOT NULL)",
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
INSERT_ENTRY = "INSERT INTO lvyue_entries (idx, notification_id, hash) VALUES (?, ?, ?)"
INSERT_HASH = "INSERT INTO lvyue_hashes (id, hash) VALUES (?, ?)"
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
