"""tlog-proof files: an entry, its inclusion proof and a signed checkpoint (docs/format.md, section 9).

A c2sp.org/tlog-proof@v1 file is::

    c2sp.org/tlog-proof@v1
    extra <base64(entry bytes)>
    index <i>
    <inclusion proof hash, base64>   (one line per hash, possibly none)

    <checkpoint note, with any cosignatures>

The checker recomputes the leaf hash from the entry bytes, requires their ``index`` member to equal the index
line, verifies the checkpoint's log signature and checks the proof against its root.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from verifier.canonical import parse_canonical
from verifier.checkpoint import Checkpoint, SignedCheckpoint, parse_checkpoint_note, verify_checkpoint
from verifier.errors import CanonicalizationError, FormatError, ProofError, VerificationError
from verifier.hashing import HASH_SIZE, leaf_hash
from verifier.merkle import check_inclusion
from verifier.note import MAX_NOTE_SIZE, b64decode_canonical

__all__ = [
    "PROOF_HEADER",
    "ProofFile",
    "ProofFileResult",
    "check_proof_file",
    "format_proof_file",
    "parse_proof_file",
]

PROOF_HEADER = "c2sp.org/tlog-proof@v1"
"""First line of every proof file."""

MAX_PROOF_HASHES = 63
"""Longest inclusion proof in a tree of at most 2**63 - 1 entries."""

MAX_PROOF_FILE_SIZE = 4 * MAX_NOTE_SIZE
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class ProofFile:
    """A parsed proof file (nothing verified yet)."""

    entry_bytes: bytes
    index: int
    proof: tuple[bytes, ...]
    checkpoint_note: str


@dataclass(frozen=True)
class ProofFileResult:
    """A checked proof file: the entry's index and bytes and the checkpoint that includes it."""

    index: int
    entry_bytes: bytes
    checkpoint: SignedCheckpoint


def format_proof_file(entry_bytes: bytes, index: int, proof: Sequence[bytes], signed_checkpoint_text: str) -> str:
    """Return the proof file for the entry at ``index`` under the signed checkpoint.

    Raises:
        FormatError: empty entry bytes, negative index, a proof hash that is not 32 bytes, or a checkpoint
            note that does not parse.
    """
    if not isinstance(entry_bytes, (bytes, bytearray)) or not entry_bytes:
        raise FormatError("entry bytes must be non-empty bytes")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise FormatError("index must be a non-negative integer")
    if len(proof) > MAX_PROOF_HASHES:
        raise FormatError("inclusion proof is too long")
    for h in proof:
        if not isinstance(h, (bytes, bytearray)) or len(h) != HASH_SIZE:
            raise FormatError(f"inclusion proof hashes must be {HASH_SIZE} bytes")
    parse_checkpoint_note(signed_checkpoint_text)
    lines = [
        PROOF_HEADER,
        "extra " + base64.b64encode(bytes(entry_bytes)).decode("ascii"),
        f"index {index}",
        *(base64.b64encode(bytes(h)).decode("ascii") for h in proof),
    ]
    return "".join(line + "\n" for line in lines) + "\n" + signed_checkpoint_text


def parse_proof_file(text: str | bytes) -> ProofFile:
    """Parse a proof file without verifying it.

    Raises:
        FormatError: wrong header, missing or empty ``extra`` line, index not decimal without leading zeros,
            a proof line that is not canonical base64 of 32 bytes, more than 63 of them, no blank line before
            the checkpoint, a checkpoint note that does not parse, or a file that is too large or not UTF-8.
    """
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_PROOF_FILE_SIZE:
            raise FormatError("proof file is too large")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise FormatError("proof file is not UTF-8") from e
    if not isinstance(text, str):
        raise FormatError("proof file must be text")
    if len(text) > MAX_PROOF_FILE_SIZE:
        raise FormatError("proof file is too large")
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise FormatError("proof file has no blank line before the checkpoint")
    lines = head.split("\n")
    if len(lines) < 3 or lines[0] != PROOF_HEADER:
        raise FormatError(f"proof file does not start with {PROOF_HEADER}, extra and index lines")
    if not lines[1].startswith("extra "):
        raise FormatError("proof file has no extra line with the entry bytes")
    entry_bytes = b64decode_canonical(lines[1][len("extra ") :], "extra data")
    if not entry_bytes:
        raise FormatError("proof file's extra data is empty")
    if not lines[2].startswith("index ") or not _DECIMAL.fullmatch(lines[2][len("index ") :]):
        raise FormatError("proof file's index line is not 'index' and a decimal number")
    index = int(lines[2][len("index ") :])
    hash_lines = lines[3:]
    if len(hash_lines) > MAX_PROOF_HASHES:
        raise FormatError("inclusion proof is too long")
    proof = []
    for i, line in enumerate(hash_lines):
        h = b64decode_canonical(line, f"proof hash {i}")
        if len(h) != HASH_SIZE:
            raise FormatError(f"proof hash {i} is {len(h)} bytes, not {HASH_SIZE}")
        proof.append(h)
    parse_checkpoint_note(note)
    return ProofFile(entry_bytes, index, tuple(proof), note)


def check_proof_file(text: str | bytes, log_verifier_key: str) -> ProofFileResult:
    """Verify a proof file against the log's verifier key string.

    Raises:
        VerificationError: ``kind="malformed"`` when the file, its entry bytes (not canonical JSON or without
            an integer ``index``) or its checkpoint do not parse; ``kind="origin"`` or
            ``kind="checkpoint_signature"`` from ``verify_checkpoint``; ``kind="inclusion"`` when the entry's
            index differs from the index line, lies outside the checkpoint, or the proof does not check.
    """
    try:
        pf = parse_proof_file(text)
    except FormatError as e:
        raise VerificationError("malformed", f"proof file: {e}") from e
    try:
        entry = parse_canonical(pf.entry_bytes)
    except CanonicalizationError as e:
        raise VerificationError("malformed", f"proof file entry: {e}", index=pf.index) from e
    entry_index = entry.get("index") if isinstance(entry, dict) else None
    if not isinstance(entry_index, int) or isinstance(entry_index, bool):
        raise VerificationError("malformed", "proof file entry has no integer index", index=pf.index)
    signed = verify_checkpoint(pf.checkpoint_note, log_verifier_key)
    cp: Checkpoint = signed.checkpoint
    if entry_index != pf.index:
        raise VerificationError(
            "inclusion",
            f"entry has index {entry_index}, the proof is for index {pf.index}",
            index=pf.index,
            expected=pf.index,
            found=entry_index,
        )
    if pf.index >= cp.size:
        raise VerificationError(
            "inclusion",
            f"index {pf.index} is not in a tree of size {cp.size}",
            index=pf.index,
            expected=f"< {cp.size}",
            found=pf.index,
        )
    try:
        check_inclusion(list(pf.proof), cp.size, cp.root, pf.index, leaf_hash(pf.entry_bytes))
    except ProofError as e:
        raise VerificationError(
            "inclusion",
            f"inclusion proof for entry {pf.index} does not check against the checkpoint: {e}",
            index=pf.index,
            expected=base64.b64encode(cp.root).decode("ascii"),
        ) from e
    return ProofFileResult(pf.index, pf.entry_bytes, signed)
