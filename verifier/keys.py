"""Key history (docs/format.md section 6): which public key a subject may sign with at a log index.

A key bound by entry ``b`` and revoked by entry ``r`` is valid at index ``i`` when ``b < i`` and (``r`` absent
or ``i <= r``). Keys come only from entries (genesis, ``key.bound``, ``key.revoked``); replay feeds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verifier.errors import FormatError, RuleViolation, UnknownKeyError
from verifier.identity import key_id as compute_key_id
from verifier.statement import b64encode

__all__ = ["KeyHistory", "KeyNotValidError", "KeyRecord"]


class KeyNotValidError(UnknownKeyError):
    """No key of that id is valid for the signer at that index.

    ``reason`` is ``unknown_key`` (never bound to that subject before the index) or ``revoked_key`` (revoked
    before the index); these are the failure kinds of docs/format.md section 11.
    """

    def __init__(self, message: str, *, key_id: str = "", name: str = "", reason: str = "unknown_key") -> None:
        super().__init__(message, key_id=key_id, name=name)
        self.reason = reason


@dataclass(slots=True)
class KeyRecord:
    """One binding of a key to a subject."""

    subject: str
    key_id: str
    public_key: bytes
    bound_at: int
    revoked_at: int | None = None

    def valid_at(self, index: int) -> bool:
        """True when the key may sign the entry at ``index``."""
        return self.bound_at < index and (self.revoked_at is None or index <= self.revoked_at)

    def to_dict(self) -> dict[str, Any]:
        """The record in the bundle's ``keys`` line shape."""
        return {
            "subject": self.subject,
            "key_id": self.key_id,
            "public_key": b64encode(self.public_key),
            "bound_at": self.bound_at,
            "revoked_at": self.revoked_at,
        }


class KeyHistory:
    """Every key ever bound, with the entry indexes that bound and revoked it.

    A key id is bound to a given subject at most once: a revoked key is never bound again.
    """

    __slots__ = ("_records",)

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], KeyRecord] = {}

    def bind(self, subject: str, key_id: str, public_key: bytes, index: int) -> None:
        """Record that the entry at ``index`` binds ``public_key`` (id ``key_id``) to ``subject``.

        Raises:
            FormatError: ``public_key`` is not 32 bytes or ``key_id`` is not its key id.
            RuleViolation: ``key_already_bound`` when that key id was bound to the subject before.
        """
        if compute_key_id(public_key) != key_id:
            raise FormatError(f"key id {key_id} does not match the public key")
        if (subject, key_id) in self._records:
            raise RuleViolation("key_already_bound", f"key {key_id} was already bound to {subject}")
        self._records[(subject, key_id)] = KeyRecord(subject, key_id, public_key, index)

    def revoke(self, subject: str, key_id: str, index: int) -> None:
        """Record that the entry at ``index`` revokes ``key_id`` of ``subject``.

        Raises:
            KeyNotValidError: the key is not valid at ``index`` (reason ``unknown_key`` or ``revoked_key``).
        """
        record = self._valid(subject, key_id, index)
        record.revoked_at = index

    def _valid(self, subject: str, key_id: str, index: int) -> KeyRecord:
        record = self._records.get((subject, key_id))
        if record is None or index <= record.bound_at:
            raise KeyNotValidError(
                f"{subject} has no key {key_id} bound before entry {index}",
                key_id=key_id,
                name=subject,
                reason="unknown_key",
            )
        if record.revoked_at is not None and index > record.revoked_at:
            raise KeyNotValidError(
                f"key {key_id} of {subject} was revoked by entry {record.revoked_at}",
                key_id=key_id,
                name=subject,
                reason="revoked_key",
            )
        return record

    def key_at(self, subject: str, key_id: str, index: int) -> bytes:
        """The public key ``key_id`` of ``subject`` valid at ``index``.

        Raises:
            KeyNotValidError: (an UnknownKeyError) ``reason`` ``unknown_key`` when never bound to the subject
                before ``index``, ``revoked_key`` when revoked before ``index``.
        """
        return self._valid(subject, key_id, index).public_key

    def is_valid(self, subject: str, key_id: str, index: int) -> bool:
        """True when ``key_id`` of ``subject`` may sign the entry at ``index``."""
        record = self._records.get((subject, key_id))
        return record is not None and record.valid_at(index)

    def is_bound(self, subject: str, key_id: str) -> bool:
        """True when ``key_id`` was ever bound to ``subject`` (revoked or not)."""
        return (subject, key_id) in self._records

    def keys_of(self, subject: str) -> list[KeyRecord]:
        """The records of ``subject``'s keys, in binding order."""
        return sorted((r for r in self._records.values() if r.subject == subject), key=lambda r: r.bound_at)

    def records(self) -> list[dict[str, Any]]:
        """The key history in the bundle's ``keys`` line shape, by bound_at, then subject, then key_id.

        Each item is ``{subject, key_id, public_key (base64), bound_at, revoked_at (index or null)}``.
        """
        ordered = sorted(self._records.values(), key=lambda r: (r.bound_at, r.subject, r.key_id))
        return [r.to_dict() for r in ordered]

    def __len__(self) -> int:
        return len(self._records)
