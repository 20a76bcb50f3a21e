"""Verifying a whole bundle (docs/format.md section 10) as it streams by.

``verify_bundle`` reads the lines once, in order, holding the replayed state (verifier.replay.LogState: the
Merkle tree's right edge, the key history, the latest entry per subject, each aggregate's state) and the roots
of the checkpoints seen, never the entries themselves. It checks, in the order the lines come:

- the header (``truncated`` when missing, ``origin`` when it names another log or log key);
- every entry (verifier.replay: ``malformed``, ``index``, ``link``, ``origin``, ``unknown_key``,
  ``revoked_key``, ``signature``, ``rule``, ``subject_link``);
- every checkpoint: its log signature (``checkpoint_signature``, ``origin``), its root against the Merkle root
  of the entries it covers (``root``), two checkpoints of one size with different roots (``consistency``), a
  checkpoint larger than the entries present (``truncated``), every cosignature by a listed witness
  (``cosignature``); the largest checkpoint must satisfy the witness policy (``cosignature``);
- the final keys line against the key history derived from the entries (``keys``).

With workers (the default on a machine with several CPUs), worker processes do the stateless part of each
entry ahead of the sequential checks: canonical bytes, statement shape, hashes and the Ed25519 verification of
its signatures, ``chunk`` entry lines at a time (verifier.parallel). This process keeps everything that depends
on what came before (chain links, which key is valid at which index, rules, the Merkle tree, checkpoints), uses a
worker's signature result only when it was computed with the key valid at that index, and prepares again here
any entry a worker found malformed, so the failure reported is the first in log order, the same as in-process.
"""

from __future__ import annotations

import base64
import os
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from verifier.checkpoint import check_witness_policy, verify_checkpoint, verify_cosignatures
from verifier.errors import VerificationError
from verifier.parallel import Binding, EntryResult, WorkerPool, find_bindings
from verifier.replay import LogState, prepare

__all__ = ["BUNDLE_FORMAT", "BundleSummary", "default_workers", "indexed_lines", "verify_bundle"]

BUNDLE_FORMAT = "lvyue-bundle/v1"
_ENTRY_PREFIX = b'{"index":'

Progress = Callable[[int, int], None]
"""``progress(entries checked, bytes read)``, called every few thousand entries and at the end."""

_Job = tuple[int, int, bytes, bytes, bytes]  # (window slot, signature position, message, sig, public key)
_Results = list[tuple[int, int, bytes, bool]]


@dataclass(frozen=True)
class BundleSummary:
    """What a clean bundle holds: counts, the largest checkpoint, the witnesses that cosigned it, the time."""

    origin: str
    entries: int
    subjects: int
    contracts: int
    commitments: int
    checkpoints: int
    keys: int
    tree_size: int
    root: str
    witnesses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The summary as a JSON-ready object (``ok`` true)."""
        return {
            "ok": True,
            "origin": self.origin,
            "entries": self.entries,
            "subjects": self.subjects,
            "contracts": self.contracts,
            "commitments": self.commitments,
            "checkpoints": self.checkpoints,
            "keys": self.keys,
            "tree_size": self.tree_size,
            "root": self.root,
            "witnesses": dict(self.witnesses),
            "seconds": round(self.seconds, 3),
        }


def _object(line: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise VerificationError("malformed", f"{what} line is not JSON: {e}") from e
    if not isinstance(value, dict):
        raise VerificationError("malformed", f"{what} line is not a JSON object")
    return value


class _Verifier:
    def __init__(
        self,
        log_verifier_key: str,
        witnesses: Sequence[str],
        threshold: int,
        progress: Progress | None,
        entry_at: Callable[[int], bytes | None] | None = None,
    ) -> None:
        self.state = LogState(log_verifier_key, entry_at=entry_at)
        self.log_key = log_verifier_key
        self.witnesses = list(witnesses)
        self.threshold = threshold
        self.progress = progress
        self.roots: dict[int, bytes] = {}
        self.waiting: dict[int, bytes] = {}  # checkpoints larger than the entries applied so far
        self.largest: tuple[int, str] | None = None
        self.checkpoints = 0
        self.keys_seen = False
        self.bytes_read = 0
        self.position = 0  # entries read, in-process

    # -- header, checkpoints, keys ----------------------------------------------------------------------------

    def header(self, line: bytes | None) -> None:
        if line is None or line.startswith(_ENTRY_PREFIX):
            raise VerificationError("truncated", "the bundle does not start with a header line")
        h = _object(line, "header")
        if h.get("kind") != "header":
            raise VerificationError("truncated", "the bundle does not start with a header line")
        if h.get("format") != BUNDLE_FORMAT:
            raise VerificationError(
                "malformed",
                f"header must be kind header, format {BUNDLE_FORMAT}",
                expected=BUNDLE_FORMAT,
                found=h.get("format"),
            )
        if h.get("origin") != self.state.origin or h.get("log_key") != self.log_key:
            raise VerificationError(
                "origin",
                "the bundle is for another log than the auditor's log key",
                expected=self.log_key,
                found=h.get("log_key"),
            )

    def other(self, line: bytes) -> None:
        obj = _object(line, "bundle")
        kind = obj.get("kind")
        if self.keys_seen:
            raise VerificationError("malformed", "nothing may follow the keys line", index=self.state.size)
        if kind == "checkpoint":
            self.checkpoint(obj)
        elif kind == "keys":
            self.keys(obj)
        elif kind == "witness":
            if self.state.size or self.checkpoints or set(obj) != {"kind", "name", "key"}:
                raise VerificationError("malformed", "witness lines follow the header and hold name and key")
        else:
            raise VerificationError("malformed", f"unknown bundle line kind {kind!r}", index=self.state.size)

    def checkpoint(self, obj: dict[str, Any]) -> None:
        note = obj.get("note")
        if set(obj) != {"kind", "note"} or not isinstance(note, str):
            raise VerificationError("malformed", "checkpoint line must be {kind, note}")
        signed = verify_checkpoint(note, self.log_key)
        if self.witnesses:
            verify_cosignatures(note, self.witnesses)
        cp = signed.checkpoint
        self.checkpoints += 1
        seen = self.roots.get(cp.size)
        if seen is not None and seen != cp.root:
            raise VerificationError(
                "consistency",
                f"two checkpoints of size {cp.size} have different roots (a fork)",
                index=cp.size - 1 if cp.size else None,
                expected=_b64(seen),
                found=_b64(cp.root),
            )
        self.roots[cp.size] = cp.root
        if self.largest is None or cp.size >= self.largest[0]:
            self.largest = (cp.size, note)
        size = self.state.size
        if cp.size > size:
            self.waiting.setdefault(cp.size, cp.root)
        elif cp.size == size:
            self._check_root(cp.size, cp.root)
        else:
            raise VerificationError(
                "malformed",
                f"checkpoint of size {cp.size} is not right after entry {cp.size - 1}",
                index=size,
                expected=size,
                found=cp.size,
            )

    def _check_root(self, size: int, root: bytes) -> None:
        mine = self.state.root()
        if mine != root:
            raise VerificationError(
                "root",
                f"checkpoint of size {size} does not have the Merkle root of entries 0..{size - 1}",
                index=size - 1 if size else None,
                expected=_b64(mine),
                found=_b64(root),
            )

    def keys(self, obj: dict[str, Any]) -> None:
        self.keys_seen = True
        self._end_of_entries()
        derived = self.state.key_records()
        if set(obj) != {"kind", "keys"} or obj.get("keys") != derived:
            raise VerificationError(
                "keys",
                "the bundle's key history differs from the one derived from its entries",
                expected=derived,
                found=obj.get("keys"),
            )

    def _end_of_entries(self) -> None:
        if self.waiting:
            size = min(self.waiting)
            raise VerificationError(
                "truncated",
                f"the bundle ends at {self.state.size} entries, before a checkpoint of size {size}",
                index=self.state.size,
                expected=size,
                found=self.state.size,
            )

    def entry(self, line: bytes, position: int, result: EntryResult) -> None:
        """Apply the entry line at ``position``: with its worker's result, or prepared here (None)."""
        state = self.state
        if self.keys_seen:
            raise VerificationError("malformed", "an entry follows the keys line", index=state.size)
        if result is None:
            state.apply(prepare(line, position))
        else:
            state.apply_checked(line, *result)
        if self.waiting:
            root = self.waiting.pop(state.size, None)
            if root is not None:
                self._check_root(state.size, root)
        if self.progress is not None and state.size % 4096 == 0:
            self.progress(state.size, self.bytes_read)

    def finish(self) -> None:
        if not self.keys_seen:
            self._end_of_entries()
            raise VerificationError("truncated", "the bundle ends without its keys line", index=self.state.size)
        if self.threshold > 0:
            if self.largest is None:
                raise VerificationError("cosignature", "the witness policy needs a checkpoint, the bundle has none")
            check_witness_policy(self.largest[1], self.witnesses, self.threshold)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def default_workers() -> int:
    """Worker processes ``verify_bundle`` uses by default: one per CPU this process may run on, none on one."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return n if n > 1 else 0


def _lines(lines: Iterable[bytes]) -> Iterator[bytes]:
    for line in lines:
        if line.endswith(b"\n"):
            line = line[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
        yield line


def indexed_lines(f: BinaryIO, again: BinaryIO) -> tuple[Iterator[bytes], Callable[[int], bytes | None]]:
    """A bundle file's lines, remembering where each entry line starts (8 bytes an entry), and a reader of an
    entry already passed, by its position (``entry_at`` for ``verify_bundle``: objections and repairs refer back
    to earlier entries, which are then read again from ``again``, a second handle on the same file, instead of
    being kept in memory)."""
    offsets = array("Q")

    def lines() -> Iterator[bytes]:
        position = 0
        for line in f:
            if line.startswith(b'{"index":'):
                offsets.append(position)
            position += len(line)
            yield line

    def entry_at(index: int) -> bytes | None:
        if not 0 <= index < len(offsets):
            return None
        again.seek(offsets[index])
        return again.readline().rstrip(b"\r\n")

    return lines(), entry_at


def verify_bundle(
    lines: Iterable[bytes],
    log_verifier_key: str,
    *,
    witnesses: Sequence[str] = (),
    witness_threshold: int = 0,
    progress: Progress | None = None,
    workers: int | None = None,
    chunk: int = 2048,
    entry_at: Callable[[int], bytes | None] | None = None,
) -> BundleSummary:
    """Verify a bundle given line by line (with or without their newlines) against the auditor's log key.

    ``witnesses`` are witness verifier keys and ``witness_threshold`` how many of them must have cosigned the
    largest checkpoint. ``workers`` processes do the stateless checks of entries and verify their signatures
    (verifier.parallel), ``chunk`` entry lines at a time, ahead of the sequential checks done here; None: one
    per CPU when there are several; 0: everything in this process (also what a bundle of fewer than ``chunk``
    entries gets). The result and the failure reported are the same either way. ``entry_at`` reads an entry
    already verified back from the bundle (see ``LogState``); give it to keep memory flat.

    Raises:
        VerificationError: the first failure in log order (docs/format.md section 11); ``index`` names the
            first bad entry when the failure belongs to one.
        ValueError: ``witness_threshold`` is negative or larger than the number of witnesses, ``chunk`` is
            not positive.
        RuntimeError: a worker process failed.
    """
    if not isinstance(witness_threshold, int) or not 0 <= witness_threshold <= len(witnesses):
        raise ValueError("witness threshold must be between 0 and the number of witnesses")
    if chunk < 1:
        raise ValueError("chunk must be positive")
    if workers is None:
        workers = default_workers()
    started = time.perf_counter()
    v = _Verifier(log_verifier_key, witnesses, witness_threshold, progress, entry_at)
    stream = _lines(lines)
    first = next(stream, None)
    v.header(first)
    v.bytes_read = len(first or b"") + 1
    _run(v, stream, workers, chunk)
    v.finish()
    st = v.state
    if progress is not None:
        progress(st.size, v.bytes_read)
    largest = v.largest
    return BundleSummary(
        origin=st.origin,
        entries=st.size,
        subjects=st.subjects,
        contracts=st.contracts,
        commitments=st.commitments,
        checkpoints=v.checkpoints,
        keys=len(st.keys),
        tree_size=largest[0] if largest else 0,
        root=_b64(v.roots[largest[0]]) if largest else "",
        witnesses=verify_cosignatures(largest[1], witnesses) if largest and witnesses else {},
        seconds=time.perf_counter() - started,
    )


def _run(v: _Verifier, stream: Iterator[bytes], workers: int, chunk: int) -> None:
    """Read the lines; with workers, send chunks of entry lines to them and apply each chunk's results in
    order while they check the chunks after it. A bundle shorter than one chunk starts no worker."""
    if workers <= 0:
        for line in stream:
            v.bytes_read += len(line) + 1
            if line.startswith(_ENTRY_PREFIX):
                v.entry(line, v.position, None)
                v.position += 1
            else:
                v.other(line)
        return
    pool: WorkerPool | None = None
    inflight: deque[tuple[int, list[bytes]]] = deque()  # (position of its first entry, its lines)
    items: list[bytes] = []
    entries: list[bytes] = []
    bindings: list[Binding] = []
    position = 0
    try:
        for line in stream:
            v.bytes_read += len(line) + 1
            items.append(line)
            if not line.startswith(_ENTRY_PREFIX):
                continue
            entries.append(line)
            found = find_bindings(line)
            if found:
                bindings.extend(found)
            if len(entries) < chunk:
                continue
            if pool is None:
                pool = WorkerPool(workers, v.state.log_key)
            pool.bind(bindings)
            bindings.clear()
            pool.submit(position, entries)
            inflight.append((position, items))
            position += len(entries)
            items, entries = [], []
            if pool.pending > 2 * workers:
                _apply_chunk(v, *inflight.popleft(), pool.collect())
        if pool is not None and entries:
            pool.bind(bindings)
            pool.submit(position, entries)
            inflight.append((position, items))
            items = []
        while inflight:
            assert pool is not None
            _apply_chunk(v, *inflight.popleft(), pool.collect())
        _apply_chunk(v, position, items, None)
    finally:
        if pool is not None:
            pool.close()


def _apply_chunk(v: _Verifier, position: int, items: list[bytes], results: list[EntryResult] | None) -> None:
    """Apply a chunk's lines in order: entries with their workers' results (None: none, prepared here)."""
    k = 0
    for line in items:
        if not line.startswith(_ENTRY_PREFIX):
            v.other(line)
            continue
        v.entry(line, position + k, results[k] if results is not None else None)
        k += 1
