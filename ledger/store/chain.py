"""The chain: what the recorder does inside its insert transaction, after taking the write lock.

Given statements already checked against the rules, it assigns contiguous indexes, links each entry to the
previous one and to the previous entry concerning each of its subjects, checks that every signing key is valid at
the entry's own index (a revocation may have landed since the statement was checked), extends the Merkle tree's
stored hashes, and writes it all together with the event store's own rows. It runs on any backend through the
narrow ``ChainTx`` interface, so SQLite and PostgreSQL share one implementation.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.errors import BadSignature, RuleRejected
from verifier.entry import encode_entry
from verifier.hashing import entry_hash, leaf_hash
from verifier.merkle import stored_hash_index, stored_hashes_for_record

STATEMENT_TOPIC = "lvyue:entry"


@dataclass(frozen=True)
class Pending:
    """A checked statement waiting for its index. Key and subject effects are applied inside the transaction."""

    originator_id: UUID
    version: int
    statement: Mapping[str, Any]
    signatures: Sequence[Mapping[str, Any]]
    concerns: tuple[str, ...]
    binds: tuple[tuple[str, str, bytes], ...] = ()  # (subject, key_id, public key)
    revokes: tuple[tuple[str, str], ...] = ()  # (subject, key_id)
    registers: tuple[tuple[str, str], ...] = ()  # (subject, kind)
    statement_bytes: bytes | None = None  # canonical(statement), when already computed


@dataclass(frozen=True, slots=True)
class Appended:
    """An entry as written: its index, hash and bytes."""

    index: int
    entry_hash: bytes
    entry: bytes


BeforeCommit = Callable[[list[Appended]], None]
"""Called with the entries of a transaction once written, just before it commits."""


@dataclass
class ChainWrites:
    """Rows to write besides the stored events, gathered while chaining a batch."""

    entries: list[tuple[int, bytes, bytes]] = field(default_factory=list)  # idx, hash, nodes (in the events' order)
    hashes: dict[int, bytes] = field(default_factory=dict)  # stored hash index -> hash (the same nodes, for reading)
    heads: dict[str, int] = field(default_factory=dict)
    keys: list[tuple[str, str, bytes, int]] = field(default_factory=list)
    revokes: list[tuple[str, str, int]] = field(default_factory=list)
    subjects: list[tuple[str, str, int]] = field(default_factory=list)


class ChainTx(Protocol):
    """What the chain needs from a backend's open, locked transaction."""

    def prefetch(self, subjects: Iterable[str], pairs: Iterable[tuple[str, str]]) -> None:
        """Say what ``subject_heads`` and ``key_validity`` will be asked next, before ``head`` is: a backend
        across a network reads it all in the round trip that reads the head."""
        ...

    def head(self) -> tuple[int, bytes | None]:
        """The next index and the hash of the last entry (None when the log is empty)."""
        ...

    def subject_heads(self, subjects: Iterable[str]) -> dict[str, int]:
        """The index of the latest entry concerning each of these subjects (absent when none)."""
        ...

    def key_validity(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int | None]]:
        """(bound_at, revoked_at) of each (subject, key id) that was ever bound."""
        ...

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        """Stored Merkle hashes by stored index."""
        ...

    def write(self, events: Sequence[StoredEvent], writes: ChainWrites) -> None:
        """Insert the events into the event store's table and write the chain's own rows, ``writes.entries``
        pairing each event in turn with its ledger index, entry hash and stored Merkle hashes."""
        ...


_second: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text


def received_now() -> str:
    """The current UTC time as an entry's ``received`` value (``YYYY-MM-DDTHH:MM:SS.ffffffZ``)."""
    global _second
    second, micro = divmod(time.time_ns() // 1000, 1_000_000)
    cached = _second
    if cached[0] != second:
        cached = _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{micro:06d}Z"


def _check_keys(pending: Pending, index: int, keys: Mapping[tuple[str, str], tuple[int, int | None]]) -> None:
    for sig in pending.signatures:
        pair = (str(sig["signer"]), str(sig["key_id"]))
        validity = keys.get(pair)
        if validity is None or validity[0] >= index:
            raise BadSignature(
                f"key {pair[1]} is not bound to {pair[0]}", code="unknown_key", signer=pair[0], key_id=pair[1]
            )
        revoked_at = validity[1]
        if revoked_at is not None and index > revoked_at:
            raise BadSignature(
                f"key {pair[1]} of {pair[0]} was revoked by entry {revoked_at}",
                code="revoked_key",
                signer=pair[0],
                key_id=pair[1],
            )


def append(tx: ChainTx, pendings: Sequence[Pending], now: Callable[[], str] | None = None) -> list[Appended]:
    """Chain ``pendings`` after the log's head and write them through ``tx``; all or nothing.

    Raises:
        BadSignature: a signing key is not valid at the index the statement would take.
        RuleRejected: a genesis statement anywhere but at index 0.
        eventsourcing.persistence.IntegrityError: an aggregate version is taken (raised by ``tx``).
    """
    subjects = {s for p in pendings for s in p.concerns}
    wanted = {(str(s["signer"]), str(s["key_id"])) for p in pendings for s in p.signatures}
    wanted.update(pair for p in pendings for pair in p.revokes)
    tx.prefetch(subjects, wanted)
    index, prev = tx.head()
    heads = tx.subject_heads(subjects)
    keys = tx.key_validity(wanted)
    writes = ChainWrites()

    def read(indexes: Sequence[int]) -> list[bytes]:
        missing = [i for i in indexes if i not in writes.hashes]
        found = dict(zip(missing, tx.read_hashes(missing), strict=True)) if missing else {}
        return [writes.hashes[i] if i in writes.hashes else found[i] for i in indexes]

    received = (now or received_now)()
    built: list[tuple[Pending, int, bytes, bytes, bytes]] = []
    for pending in pendings:
        if pending.statement["type"] == "log.genesis":
            if index != 0:
                raise RuleRejected("the genesis statement can only be entry 0", code="genesis_not_first")
        else:
            _check_keys(pending, index, keys)
        links = {subject: heads.get(subject) for subject in pending.concerns}
        data = encode_entry(
            index, prev, links, pending.statement, pending.signatures, received, statement_bytes=pending.statement_bytes
        )
        digest = entry_hash(data)
        new = stored_hashes_for_record(index, leaf_hash(data), read)
        base = stored_hash_index(0, index)
        for offset, value in enumerate(new):
            writes.hashes[base + offset] = value
        for subject, key_id, public_key in pending.binds:
            keys[(subject, key_id)] = (index, None)
            writes.keys.append((subject, key_id, public_key, index))
        for subject, key_id in pending.revokes:
            if (subject, key_id) not in keys:
                raise RuleRejected(f"key {key_id} is not bound to {subject}", code="key_not_valid")
            keys[(subject, key_id)] = (keys[(subject, key_id)][0], index)
            writes.revokes.append((subject, key_id, index))
        for subject, kind in pending.registers:
            writes.subjects.append((subject, kind, index))
        for subject in pending.concerns:
            heads[subject] = index
            writes.heads[subject] = index
        built.append((pending, index, data, digest, b"".join(new)))
        prev = digest
        index += 1
    events = [StoredEvent(p.originator_id, p.version, STATEMENT_TOPIC, data) for p, _, data, _, _ in built]
    writes.entries = [(i, digest, nodes) for _, i, _, digest, nodes in built]
    tx.write(events, writes)
    return [Appended(i, digest, data) for _, i, data, digest, _ in built]


def b64(data: bytes) -> str:
    """Standard base64 with padding."""
    return base64.b64encode(data).decode("ascii")


class ChainCache:
    """What a recorder remembers between its own appends, to read less inside the next one.

    - Stored Merkle hashes never change once committed: the ones this process wrote recently are kept (the right
      edge of the tree needs mostly those), up to ``hashes_kept``.
    - The latest entry concerning each subject is kept for the subjects this process appended about, and so is
      the validity of the keys that signed them; both are trusted only while the log's head is still the one
      this process committed last (index and hash, read in the locked transaction): when another writer appended
      in between, they are forgotten and read again.

    Updated only after a commit succeeded (``committed``), under the recorder's write lock.
    """

    def __init__(self, *, hashes_kept: int = 16384, subjects_kept: int = 65536) -> None:
        self.size = -1
        self.last: bytes | None = None
        self.heads: dict[str, int] = {}
        self.keys: dict[tuple[str, str], tuple[int, int | None]] = {}
        self.hashes: dict[int, bytes] = {}
        self.hashes_kept = hashes_kept
        self.subjects_kept = subjects_kept

    def committed(self, tx: CachedChainTx, appended: Sequence[Appended]) -> None:
        """Take in what the transaction of ``tx`` wrote, ``appended`` (call after its commit succeeded)."""
        writes = tx.written
        if writes is None or not appended:
            return
        if not tx.fresh:
            self.heads.clear()
            self.keys.clear()
        for subject, index in writes.heads.items():
            self.heads.pop(subject, None)
            self.heads[subject] = index
        while len(self.heads) > self.subjects_kept:
            del self.heads[next(iter(self.heads))]
        self.keys.update(tx.keys)  # as read in the transaction, with its own bindings and revocations applied
        while len(self.keys) > self.subjects_kept:
            del self.keys[next(iter(self.keys))]
        self.hashes.update(writes.hashes)
        while len(self.hashes) > self.hashes_kept:
            del self.hashes[next(iter(self.hashes))]
        self.size, self.last = appended[-1].index + 1, appended[-1].entry_hash


_K = TypeVar("_K")
_V = TypeVar("_V")


def _take_kept(wanted: set[_K], kept: Mapping[_K, _V], found: dict[_K, _V]) -> set[_K]:
    """Copy into ``found`` what ``kept`` holds of ``wanted``; return the keys it does not hold."""
    rest: set[_K] = set()
    for key in wanted:
        value = kept.get(key)
        if value is None:
            rest.add(key)
        else:
            found[key] = value
    return rest


class CachedChainTx:
    """A ``ChainTx`` that answers from a ``ChainCache`` what it can and asks the backend's for the rest."""

    def __init__(self, inner: ChainTx, cache: ChainCache) -> None:
        self.inner = inner
        self.cache = cache
        self.fresh = False  # the cache's subject heads and keys are current (nobody else appended since)
        self.written: ChainWrites | None = None
        self.keys: dict[tuple[str, str], tuple[int, int | None]] = {}  # handed to the chain, which updates it

    def prefetch(self, subjects: Iterable[str], pairs: Iterable[tuple[str, str]]) -> None:
        self.inner.prefetch(subjects, pairs)

    def head(self) -> tuple[int, bytes | None]:
        size, last = self.inner.head()
        self.fresh = size == self.cache.size and last == self.cache.last
        return size, last

    def subject_heads(self, subjects: Iterable[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        wanted = _take_kept(set(subjects), self.cache.heads if self.fresh else {}, found)
        if wanted:
            found.update(self.inner.subject_heads(wanted))
        return found

    def key_validity(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int | None]]:
        found = self.keys
        wanted = _take_kept(set(pairs), self.cache.keys if self.fresh else {}, found)
        if wanted:
            found.update(self.inner.key_validity(wanted))
        return found

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        kept = self.cache.hashes
        missing = [i for i in indexes if i not in kept]
        found = dict(zip(missing, self.inner.read_hashes(missing), strict=True)) if missing else {}
        return [kept[i] if i in kept else found[i] for i in indexes]

    def write(self, events: Sequence[StoredEvent], writes: ChainWrites) -> None:
        self.inner.write(events, writes)
        self.written = writes


def append_cached(
    inner: ChainTx, cache: ChainCache, pendings: Sequence[Pending], before_commit: BeforeCommit | None
) -> tuple[CachedChainTx, list[Appended]]:
    """``append`` through ``cache``, then ``before_commit``; the caller commits, then calls
    ``cache.committed(tx, appended)`` with what it returned."""
    tx = CachedChainTx(inner, cache)
    appended = append(tx, pendings)
    if before_commit is not None:
        before_commit(appended)
    return tx, appended
