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

Signatures are verified on a small thread pool ahead of the sequential checks (Ed25519 in libsodium releases
the GIL); the first failure in log order is still the one reported.
"""

from __future__ import annotations

import base64
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from verifier.checkpoint import check_witness_policy, verify_checkpoint, verify_cosignatures
from verifier.errors import VerificationError
from verifier.replay import LogState, Prepared, check_signature, prepare

__all__ = ["BUNDLE_FORMAT", "BundleSummary", "verify_bundle"]

BUNDLE_FORMAT = "lvyue-bundle/v1"
_ENTRY_PREFIX = b'{"index":'
_WINDOW = 256
_CHUNK = 64

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


def _verify_jobs(jobs: Sequence[_Job]) -> _Results:
    return [(slot, pos, pk, check_signature(msg, sig, pk)) for slot, pos, msg, sig, pk in jobs]


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
        self.position = 0  # entries read (prepared), ahead of the state while pipelining

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

    def after_entry(self) -> None:
        size = self.state.size
        root = self.waiting.pop(size, None)
        if root is not None:
            self._check_root(size, root)

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
    threads: int = 2,
    entry_at: Callable[[int], bytes | None] | None = None,
) -> BundleSummary:
    """Verify a bundle given line by line (with or without their newlines) against the auditor's log key.

    ``witnesses`` are witness verifier keys and ``witness_threshold`` how many of them must have cosigned the
    largest checkpoint. ``threads`` verify signatures ahead of the sequential checks (0: none). ``entry_at``
    reads an entry already verified back from the bundle (see ``LogState``); give it to keep memory flat.

    Raises:
        VerificationError: the first failure in log order (docs/format.md section 11); ``index`` names the
            first bad entry when the failure belongs to one.
        ValueError: ``witness_threshold`` is negative or larger than the number of witnesses.
    """
    if not isinstance(witness_threshold, int) or not 0 <= witness_threshold <= len(witnesses):
        raise ValueError("witness threshold must be between 0 and the number of witnesses")
    started = time.perf_counter()
    v = _Verifier(log_verifier_key, witnesses, witness_threshold, progress, entry_at)
    stream = _lines(lines)
    first = next(stream, None)
    v.header(first)
    v.bytes_read = len(first or b"") + 1
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lvyue-verify") if threads > 0 else None
    try:
        _run(v, stream, pool)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
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


_Item = Prepared | bytes


def _run(v: _Verifier, stream: Iterator[bytes], pool: ThreadPoolExecutor | None) -> None:
    """Read windows of lines; verify each window's signatures on the pool while applying the one before."""
    inflight: deque[tuple[list[_Item], list[Future[_Results]]]] = deque()
    window: list[_Item] = []
    entries_in_window = 0
    for line in stream:
        v.bytes_read += len(line) + 1
        if line.startswith(_ENTRY_PREFIX):
            window.append(prepare(line, v.position))
            v.position += 1
            entries_in_window += 1
            if entries_in_window >= _WINDOW:
                inflight.append((window, _submit(v, window, pool)))
                window, entries_in_window = [], 0
                if len(inflight) > 1:
                    _apply(v, *inflight.popleft())
        else:
            window.append(line)
    inflight.append((window, _submit(v, window, pool)))
    while inflight:
        _apply(v, *inflight.popleft())


def _submit(v: _Verifier, window: list[_Item], pool: ThreadPoolExecutor | None) -> list[Future[_Results]]:
    if pool is None:
        return []
    state = v.state
    jobs: list[_Job] = []
    for slot, item in enumerate(window):
        if not isinstance(item, Prepared) or item.signed is None or item.entry is None:
            continue
        index = item.entry.index
        for pos, s in enumerate(item.signed.signatures):
            pk = state.public_key(s.signer, s.key_id, index)
            if pk is not None:
                jobs.append((slot, pos, item.message, s.sig, pk))
    return [pool.submit(_verify_jobs, jobs[i : i + _CHUNK]) for i in range(0, len(jobs), _CHUNK)]


def _apply(v: _Verifier, window: list[_Item], futures: list[Future[_Results]]) -> None:
    presigned: dict[int, dict[int, tuple[bytes, bool]]] = {}
    for f in futures:
        for slot, pos, pk, ok in f.result():
            presigned.setdefault(slot, {})[pos] = (pk, ok)
    state = v.state
    for slot, item in enumerate(window):
        if isinstance(item, Prepared):
            if v.keys_seen:
                raise VerificationError("malformed", "an entry follows the keys line", index=state.size)
            state.apply(item, presigned.get(slot))
            if v.waiting:
                v.after_entry()
            if v.progress is not None and state.size % 4096 == 0:
                v.progress(state.size, v.bytes_read)
        else:
            v.other(item)
