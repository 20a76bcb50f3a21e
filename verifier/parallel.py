"""The stateless half of bundle verification, on worker processes (used by verifier.bundle).

Checking an entry has a stateless part, the same whatever came before it (``verifier.replay.prepare``: the
canonical entry bytes, the statement's shape, the entry and leaf hashes, the signed message) plus the Ed25519
verification of its signatures, which needs only the public key; and a sequential part (``LogState.apply``:
index, chain link, which key is valid at that index, the rules, the Merkle tree). ``check_chunk`` does the
stateless part of a run of entry lines; ``WorkerPool`` runs it on worker processes, each chunk of lines going to
the next worker in turn and the results coming back in the order the chunks were given.

A worker verifies a signature with the public key bound to its (signer, key id) as far as the worker knows:
the bindings the caller sends with each chunk (those found so far, ``key.bound`` and genesis lines, whether or
not their entries turn out valid) and the ones it finds in the chunk itself. That key is a guess: the result
carries the public key it was checked against, and ``LogState.apply`` uses it only when that is the key valid
at the entry's index, checking the signature itself otherwise. Workers learn nothing that the sequential checks
then trust without checking.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import signal
import sys
import threading
import traceback
from collections import deque
from collections.abc import Iterable, Sequence
from multiprocessing.connection import Connection
from typing import Any

import orjson

from verifier.identity import key_id
from verifier.replay import check_signature, prepare
from verifier.statement import b64decode

__all__ = ["Binding", "EntryResult", "WorkerPool", "check_chunk", "find_bindings"]

Binding = tuple[str, str, bytes]
"""``(subject, key id, public key)``: a key binding as a statement states it (not yet known to be valid)."""

EntryResult = tuple[bytes, tuple[tuple[bytes, bool] | None, ...]] | None
"""The stateless result of one entry: None when it is malformed (the caller prepares it again to report the
failure); otherwise ``entry hash || leaf hash`` (64 bytes) and, for each signature in order, ``(public key,
valid)`` or None when the worker did not know the signer's key."""

_KEY_BOUND = b'"type":"key.bound"'
_GENESIS = b'"type":"log.genesis"'


def _bindings_of(statement: Any) -> list[Binding]:
    """The key bindings a statement (parsed JSON, not trusted) states; none when it is not shaped as one."""
    out: list[Binding] = []
    try:
        body = statement["body"]
        if statement["type"] == "key.bound":
            out.append((body["subject"], body["key_id"], b64decode(body["public_key"], what="key", size=32)))
        elif statement["type"] == "log.genesis":
            for role in ("operator", "authority"):
                pk = b64decode(body[role]["public_key"], what=role, size=32)
                out.append((body[role]["subject"], key_id(pk), pk))
    except (KeyError, TypeError, ValueError):
        return []
    return [b for b in out if isinstance(b[0], str) and isinstance(b[1], str)]


def find_bindings(line: bytes) -> list[Binding]:
    """The key bindings an entry line states (``key.bound`` and genesis), read without checking the entry.

    A cheap byte search skips every other line. Raises nothing.
    """
    if _KEY_BOUND not in line and _GENESIS not in line:
        return []

    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return []
    return _bindings_of(value.get("statement")) if isinstance(value, dict) else []


def check_chunk(
    position: int, lines: Sequence[bytes], keys: dict[tuple[str, str], bytes], log_key: bytes
) -> list[EntryResult]:
    """The stateless results of consecutive entry lines, the first at ``position`` (see ``EntryResult``).

    ``keys`` maps (subject, key id) to the public key to check signatures with; bindings stated in the lines
    are added to it (first binding wins). Entry 0 is checked with the log key. Raises nothing.
    """
    out: list[EntryResult] = []
    for offset, line in enumerate(lines):
        p = prepare(line, position + offset)
        if p.error is not None or p.signed is None or p.entry is None:
            out.append(None)
            continue
        signed = p.signed
        index = p.entry.index
        results: list[tuple[bytes, bool] | None] = []
        for s in signed.signatures:
            pk = log_key if index == 0 else keys.get((s.signer, s.key_id))
            results.append(None if pk is None else (pk, check_signature(p.message, s.sig, pk)))
        if signed.type in ("key.bound", "log.genesis"):
            for subject, kid, pk in _bindings_of(signed.statement):
                keys.setdefault((subject, kid), pk)
        out.append((p.entry_hash + p.leaf_hash, tuple(results)))
    return out


# -- worker processes ---------------------------------------------------------------------------------------------

_Task = tuple[int, list[bytes], list[Binding]]  # (position of the first line, entry lines, new bindings)


def _serve(tasks: Connection, results: Connection, log_key: bytes) -> None:
    """A worker's loop: receive chunks (on a thread, so the sender never waits on a full pipe), check them,
    send the results back in order. None ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is the caller's to handle; it stops us
    inbox: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()

    def receive() -> None:
        try:
            while True:
                task: _Task | None = tasks.recv()
                inbox.put(task)
                if task is None:
                    return
        except (EOFError, OSError):
            inbox.put(None)

    threading.Thread(target=receive, daemon=True).start()
    keys: dict[tuple[str, str], bytes] = {}
    while (task := inbox.get()) is not None:
        position, lines, bindings = task
        for subject, kid, pk in bindings:
            keys.setdefault((subject, kid), pk)
        try:
            reply: tuple[str, Any] = ("ok", check_chunk(position, lines, keys, log_key))
        except BaseException:  # pragma: no cover - a bug, reported to the caller
            reply = ("error", traceback.format_exc())
        try:
            results.send(reply)
        except (BrokenPipeError, OSError):  # pragma: no cover - the caller has gone
            return


class WorkerPool:
    """``workers`` processes doing ``check_chunk``; chunks go round-robin, results come back in order.

    Each worker is sent, with each chunk, the bindings it has not been sent yet (``bind`` adds to them).
    """

    def __init__(self, workers: int, log_key: bytes) -> None:
        """Start the processes: forked on Linux (at once, and without importing the caller's main module
        again; a worker only runs its own loop), spawned elsewhere.

        Raises:
            ValueError: ``workers`` is not positive.
        """
        if workers < 1:
            raise ValueError("a worker pool needs at least one worker")
        ctx: Any = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        self._bindings: list[Binding] = []
        self._sent = [0] * workers
        self._procs: list[Any] = []
        self._tasks: list[Connection] = []
        self._results: list[Connection] = []
        self._next = 0  # the worker the next chunk goes to
        self._order: deque[int] = deque()  # the worker of each chunk not yet collected
        try:
            for _ in range(workers):
                task_r, task_w = ctx.Pipe(duplex=False)
                result_r, result_w = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_serve, args=(task_r, result_w, log_key), daemon=True)
                proc.start()
                task_r.close()
                result_w.close()
                self._procs.append(proc)
                self._tasks.append(task_w)
                self._results.append(result_r)
        except BaseException:
            self.close()
            raise

    @property
    def pending(self) -> int:
        """Chunks submitted and not yet collected."""
        return len(self._order)

    def bind(self, bindings: Iterable[Binding]) -> None:
        """Add key bindings for the workers to use from their next chunk on."""
        self._bindings.extend(bindings)

    def submit(self, position: int, lines: list[bytes]) -> None:
        """Send a chunk of entry lines (the first at ``position``) to the next worker."""
        k = self._next
        self._next = (k + 1) % len(self._procs)
        new = self._bindings[self._sent[k] :]
        self._sent[k] = len(self._bindings)
        self._tasks[k].send((position, lines, new))
        self._order.append(k)

    def collect(self) -> list[EntryResult]:
        """The results of the oldest chunk not yet collected.

        Raises:
            RuntimeError: a worker failed or died.
        """
        k = self._order.popleft()
        try:
            status, value = self._results[k].recv()
        except (EOFError, OSError) as e:
            raise RuntimeError(f"verification worker {k} stopped") from e
        if status != "ok":
            raise RuntimeError(f"verification worker {k} failed:\n{value}")
        results: list[EntryResult] = value
        return results

    def close(self) -> None:
        """Stop the workers: at once when chunks are still pending (after a failure), else once they have read
        the end of their tasks. Raises nothing."""
        if self._order:
            for proc in self._procs:
                proc.terminate()
        for conn in self._tasks:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(None)
        for proc in self._procs:
            proc.join(timeout=1.0)
            if proc.is_alive():  # pragma: no cover - a worker that does not stop
                proc.terminate()
                proc.join()
        for conn in (*self._tasks, *self._results):
            conn.close()
        self._procs.clear()
        self._order.clear()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
