"""Hashes of entries and of the Merkle tree over them (docs/format.md, section 4).

The tree is the RFC 6962 / RFC 9162 one: a leaf hashes ``0x00 || entry bytes``, an interior node
``0x01 || left || right``, and the tree of no entries has root ``SHA-256("")``.
"""

from __future__ import annotations

import hashlib

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "entry_hash", "leaf_hash", "node_hash"]

HASH_SIZE = 32
"""Size in bytes of every hash in the log."""

EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""Root of the empty tree: SHA-256 of the empty string."""


def entry_hash(entry_bytes: bytes) -> bytes:
    """Return the entry hash ``SHA-256(E)``, the value of the next entry's ``prev`` (hex).

    Raises:
        TypeError: ``entry_bytes`` is not bytes.
    """
    if not isinstance(entry_bytes, (bytes, bytearray, memoryview)):
        raise TypeError("entry bytes must be bytes")
    return hashlib.sha256(entry_bytes).digest()


def leaf_hash(entry_bytes: bytes) -> bytes:
    """Return the Merkle leaf hash ``SHA-256(0x00 || E)`` (Go's ``tlog.RecordHash``).

    Raises:
        TypeError: ``entry_bytes`` is not bytes.
    """
    if not isinstance(entry_bytes, (bytes, bytearray, memoryview)):
        raise TypeError("entry bytes must be bytes")
    h = hashlib.sha256(b"\x00")
    h.update(entry_bytes)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the interior node hash ``SHA-256(0x01 || left || right)`` (Go's ``tlog.NodeHash``).

    Raises:
        ValueError: ``left`` or ``right`` is not exactly 32 bytes.
    """
    if len(left) != HASH_SIZE or len(right) != HASH_SIZE:
        raise ValueError(f"node hash children must be {HASH_SIZE} bytes, got {len(left)} and {len(right)}")
    return hashlib.sha256(b"\x01" + bytes(left) + bytes(right)).digest()
