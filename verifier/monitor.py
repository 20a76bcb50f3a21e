"""The auditor's monitor: follow a log over HTTP and catch a rewritten history between two runs.

Each run:

1. fetches ``GET /log/checkpoint`` and verifies its log signature;
2. when the state directory holds a checkpoint accepted by an earlier run, requires the new one to extend it:
   not smaller, the same root at the same size, otherwise ``GET /log/proof/consistency?old=&new=`` must check
   (``consistency``);
3. downloads every entry ``0 .. size - 1`` with ``GET /log/entries?start=&stop=`` (at most 1000 per call) and
   replays them from scratch (verifier.replay), requiring the Merkle root at the accepted size to be the accepted
   root (``consistency``: the history was rewritten) and the root at the new size to be the checkpoint's
   (``root``);
4. only then writes the new checkpoint to the state directory as the accepted one.

The state directory holds nothing but ``checkpoint`` (the accepted, signed checkpoint note), which is verified
again on every run: there is no saved replay state for anyone to plant. The price is re-downloading the log on
each run, which an auditor's machine does at tens of thousands of entries per second.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from verifier.checkpoint import SignedCheckpoint, verify_checkpoint
from verifier.errors import FormatError, ProofError, VerificationError, VerifierError
from verifier.merkle import check_consistency
from verifier.note import b64decode_canonical
from verifier.replay import LogState

__all__ = ["PAGE", "FetchError", "MonitorResult", "run_monitor"]

PAGE = 1000
"""Entries asked for per ``/log/entries`` call (the API's maximum)."""

CHECKPOINT_FILE = "checkpoint"


class FetchError(VerifierError):
    """The log could not be fetched (network or HTTP error), or the state directory could not be used."""


@dataclass(frozen=True)
class MonitorResult:
    """One monitor run: the accepted checkpoint before and after, and what the replay found."""

    previous_size: int | None
    size: int
    root: str
    subjects: int
    contracts: int
    commitments: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready object (``ok`` true)."""
        return {
            "ok": True,
            "previous_size": self.previous_size,
            "size": self.size,
            "entries": self.size,
            "root": self.root,
            "subjects": self.subjects,
            "contracts": self.contracts,
            "commitments": self.commitments,
            "seconds": round(self.seconds, 3),
        }


def _get(client: httpx.Client, path: str, params: dict[str, int] | None = None) -> httpx.Response:
    try:
        response = client.get(path, params=params)
    except httpx.HTTPError as e:
        raise FetchError(f"GET {path}: {e}") from e
    if response.status_code != 200:
        raise FetchError(f"GET {path}: HTTP {response.status_code}: {response.text[:200]}")
    return response


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _load_accepted(state_dir: Path, log_verifier_key: str) -> SignedCheckpoint | None:
    path = state_dir / CHECKPOINT_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise FetchError(f"cannot read {path}: {e}") from e
    return verify_checkpoint(text, log_verifier_key)


def _save_accepted(state_dir: Path, note: str) -> None:
    path = state_dir / CHECKPOINT_FILE
    tmp = state_dir / (CHECKPOINT_FILE + ".tmp")
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp.write_text(note, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        raise FetchError(f"cannot write {path}: {e}") from e


def _check_extends(client: httpx.Client, old: SignedCheckpoint, new: SignedCheckpoint) -> None:
    o, n = old.checkpoint, new.checkpoint
    if n.size < o.size:
        raise VerificationError(
            "consistency",
            f"the log shrank from {o.size} to {n.size} entries since the accepted checkpoint",
            index=n.size,
            expected=o.size,
            found=n.size,
        )
    if n.size == o.size:
        if n.root != o.root:
            raise VerificationError(
                "consistency",
                f"two checkpoints of size {n.size} have different roots (a fork)",
                expected=_b64(o.root),
                found=_b64(n.root),
            )
        return
    if o.size == 0:
        return
    body = _get(client, "/log/proof/consistency", {"old": o.size, "new": n.size}).json()
    try:
        raw = body["proof"] if isinstance(body, dict) else None
        if not isinstance(raw, list) or not all(isinstance(h, str) for h in raw):
            raise FormatError('consistency proof must be {"proof": [base64, ...]}')
        proof = [b64decode_canonical(h, "consistency proof hash") for h in raw]
    except FormatError as e:
        raise VerificationError("malformed", f"consistency proof: {e}") from e
    try:
        check_consistency(proof, n.size, n.root, o.size, o.root)
    except ProofError as e:
        raise VerificationError(
            "consistency",
            f"the checkpoint of size {n.size} does not extend the accepted one of size {o.size}: {e}",
            expected=_b64(o.root),
        ) from e


def run_monitor(
    client: httpx.Client,
    state_dir: Path,
    log_verifier_key: str,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> MonitorResult:
    """Run the monitor once against the log served at ``client``'s base URL.

    ``progress(entries replayed, entries to replay)`` is called after each page.

    Raises:
        VerificationError: the checkpoint, the consistency proof or an entry fails (``checkpoint_signature``,
            ``origin``, ``consistency``, ``root``, ``truncated``, ``malformed`` and every entry kind of
            verifier.replay); nothing is saved.
        FetchError: a request fails or returns an error status, or the state directory cannot be used.
    """
    started = time.perf_counter()
    old = _load_accepted(state_dir, log_verifier_key)
    new = verify_checkpoint(_get(client, "/log/checkpoint").text, log_verifier_key)
    if old is not None:
        _check_extends(client, old, new)
    size = new.checkpoint.size
    state = LogState(log_verifier_key)
    old_size = old.checkpoint.size if old is not None else None
    while state.size < size:
        start = state.size
        stop = min(start + PAGE, size)
        lines = _get(client, "/log/entries", {"start": start, "stop": stop}).content.splitlines()
        if not lines:
            raise VerificationError(
                "truncated",
                f"the log serves no entry {start}, below its checkpoint's size {size}",
                index=start,
                expected=size,
                found=start,
            )
        for line in lines[: stop - start]:
            state.apply(line)
            if old is not None and state.size == old_size and state.root() != old.checkpoint.root:
                raise VerificationError(
                    "consistency",
                    f"the entries 0..{state.size - 1} served now are not those of the accepted checkpoint",
                    index=state.size - 1,
                    expected=_b64(old.checkpoint.root),
                    found=_b64(state.root()),
                )
        if progress is not None:
            progress(state.size, size)
    if state.root() != new.checkpoint.root:
        raise VerificationError(
            "root",
            f"the checkpoint's root is not the Merkle root of entries 0..{size - 1}",
            index=size - 1 if size else None,
            expected=_b64(state.root()),
            found=_b64(new.checkpoint.root),
        )
    _save_accepted(state_dir, new.note)
    return MonitorResult(
        previous_size=old_size,
        size=size,
        root=_b64(new.checkpoint.root),
        subjects=state.subjects,
        contracts=state.contracts,
        commitments=state.commitments,
        seconds=time.perf_counter() - started,
    )
