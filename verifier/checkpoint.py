"""Checkpoints and their witness cosignatures (docs/format.md, section 5).

A checkpoint is a C2SP tlog-checkpoint: the note text ``origin "\\n" size "\\n" base64(root) "\\n"`` signed by
the log key, whose name is the origin. Witnesses add C2SP tlog-cosignature lines (``cosignature/v1``, Ed25519,
key algorithm byte 0x04): the signature bytes are ``timestamp (8 bytes, big-endian) || Ed25519(witness key,
"cosignature/v1\\ntime " timestamp "\\n" || note text)``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import nacl.exceptions
import nacl.signing

from verifier.errors import FormatError, VerificationError
from verifier.note import (
    NoteKey,
    Signature,
    Signer,
    Verifier,
    b64decode_canonical,
    key_hash,
    parse_note,
    sign_note,
)

__all__ = [
    "ALG_COSIGNATURE_V1",
    "Checkpoint",
    "SignedCheckpoint",
    "WitnessVerifier",
    "check_witness_policy",
    "cosign",
    "cosignature_message",
    "parse_checkpoint_note",
    "sign_checkpoint",
    "verify_checkpoint",
    "verify_cosignatures",
    "witness_verifier_key_string",
]

ALG_COSIGNATURE_V1 = 0x04
"""Key algorithm byte of cosignature/v1 witness keys."""

MAX_TREE_SIZE = 2**63 - 1
MAX_TIMESTAMP = 2**64 - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint body: the log's origin, tree size and root (plus extension lines, never emitted)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        """Check the fields.

        Raises:
            FormatError: empty origin or one holding a newline, size not an integer in ``[0, 2**63 - 1]``,
                root not 32 bytes, or an empty extension line or one holding a newline.
        """
        if not isinstance(self.origin, str) or self.origin == "" or "\n" in self.origin:
            raise FormatError("checkpoint origin must be a non-empty line")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise FormatError("checkpoint size must be an integer between 0 and 2**63 - 1")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            raise FormatError("checkpoint root must be 32 bytes")
        for ext in self.extensions:
            if not isinstance(ext, str) or ext == "" or "\n" in ext:
                raise FormatError("checkpoint extension lines must be non-empty lines")

    def to_text(self) -> str:
        """The note text: origin, size, base64 root and any extension lines, each ending in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii"), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text; extension lines are kept in ``extensions``.

        Raises:
            FormatError: fewer than three lines, a missing final newline, an empty line, a size that is not
                decimal without leading zeros (or above 2**63 - 1), or a root that is not canonical base64 of
                32 bytes.
        """
        if not isinstance(text, str) or not text.endswith("\n"):
            raise FormatError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise FormatError("checkpoint text has fewer than three lines")
        origin, size_s, root_s, *extensions = lines
        if not origin:
            raise FormatError("checkpoint origin is empty")
        if not _DECIMAL.fullmatch(size_s):
            raise FormatError(f"checkpoint size {size_s!r} is not a decimal number without leading zeros")
        size = int(size_s)
        if size > MAX_TREE_SIZE:
            raise FormatError("checkpoint size is larger than 2**63 - 1")
        root = b64decode_canonical(root_s, "checkpoint root")
        if len(root) != 32:
            raise FormatError(f"checkpoint root is {len(root)} bytes, not 32")
        if any(not ext for ext in extensions):
            raise FormatError("checkpoint has an empty extension line")
        return cls(origin, size, root, tuple(extensions))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint whose log signature verified, with the note it came in and its other signature lines."""

    checkpoint: Checkpoint
    note: str
    log_signature: Signature
    cosignatures: tuple[Signature, ...]

    @property
    def text(self) -> str:
        """The signed note text (the checkpoint body)."""
        return self.checkpoint.to_text()


def sign_checkpoint(cp: Checkpoint, log_signer: Signer) -> str:
    """Return the checkpoint as a note signed by the log key (whose name must be the origin).

    Raises:
        FormatError: the signer's name is not the checkpoint's origin, or the origin is not a valid key name.
    """
    if log_signer.name != cp.origin:
        raise FormatError(f"log key name {log_signer.name!r} is not the checkpoint origin {cp.origin!r}")
    return sign_note(cp.to_text(), [log_signer])


def parse_checkpoint_note(note_text: str | bytes) -> tuple[Checkpoint, list[Signature]]:
    """Parse a signed checkpoint note without verifying any signature.

    Raises:
        FormatError: the note or its checkpoint body is malformed.
    """
    text, sigs = parse_note(note_text)
    return Checkpoint.from_text(text), sigs


def verify_checkpoint(note_text: str | bytes, log_verifier_key: str) -> SignedCheckpoint:
    """Verify a checkpoint note's log signature and return the checkpoint with its other signature lines.

    The first signature line must be the log key's; its name must be the checkpoint's origin. Cosignature
    lines are returned unverified (see ``verify_cosignatures``).

    Raises:
        VerificationError: ``kind="malformed"`` for a malformed note, body or verifier key, or a repeated log
            signature; ``kind="origin"`` when the checkpoint names another log than the key;
            ``kind="checkpoint_signature"`` when the first line is not by the log key or does not verify.
    """
    try:
        verifier = Verifier.from_string(log_verifier_key)
    except FormatError as e:
        raise VerificationError("malformed", f"log verifier key: {e}") from e
    try:
        cp, sigs = parse_checkpoint_note(note_text)
    except FormatError as e:
        raise VerificationError("malformed", f"checkpoint: {e}") from e
    if cp.origin != verifier.name:
        raise VerificationError(
            "origin",
            f"checkpoint is for log {cp.origin!r}, not {verifier.name!r}",
            expected=verifier.name,
            found=cp.origin,
        )
    mine = [s for s in sigs if (s.name, s.key_hash) == (verifier.name, verifier.key_hash)]
    if len(mine) > 1:
        raise VerificationError("malformed", "checkpoint carries the log signature more than once")
    first = sigs[0]
    if (first.name, first.key_hash) != (verifier.name, verifier.key_hash):
        raise VerificationError(
            "checkpoint_signature",
            f"checkpoint's first signature is by {first.name}+{first.key_id}, not by the log key",
            expected=f"{verifier.name}+{verifier.key_id}",
            found=f"{first.name}+{first.key_id}",
        )
    if not verifier.verify(cp.to_text().encode("utf-8"), first.signature):
        raise VerificationError(
            "checkpoint_signature",
            "checkpoint's log signature does not verify",
            expected=f"{verifier.name}+{verifier.key_id}",
            found=first.base64,
        )
    note = note_text if isinstance(note_text, str) else note_text.decode("utf-8")
    return SignedCheckpoint(cp, note, first, tuple(sigs[1:]))


def cosignature_message(text: str, timestamp: int) -> bytes:
    """The bytes a cosignature/v1 witness signs: ``"cosignature/v1\\ntime " timestamp "\\n" || text``.

    Raises:
        FormatError: ``timestamp`` is not an integer in ``[0, 2**64 - 1]``.
    """
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise FormatError("cosignature timestamp must be an integer between 0 and 2**64 - 1")
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode("utf-8")


def witness_verifier_key_string(name: str, public_key: bytes) -> str:
    """Return the witness verifier key ``name+hex8(keyhash)+base64(0x04 || public key)``.

    Raises:
        FormatError: invalid name, or ``public_key`` is not 32 bytes.
    """
    if len(public_key) != 32:
        raise FormatError(f"Ed25519 public key must be 32 bytes, got {len(public_key)}")
    alg_and_key = bytes([ALG_COSIGNATURE_V1]) + bytes(public_key)
    h = key_hash(name, alg_and_key)
    return f"{name}+{h:08x}+{base64.b64encode(alg_and_key).decode('ascii')}"


@dataclass(frozen=True)
class WitnessVerifier(NoteKey):
    """A witness's cosignature/v1 key: name, Ed25519 public key and key hash (over ``0x04 || key``)."""

    algorithm: ClassVar[int] = ALG_COSIGNATURE_V1

    def verify(self, text: str, sig: bytes) -> int | None:
        """Return the timestamp of a valid cosignature of note text ``text``, or None. Raises nothing."""
        if len(sig) != 8 + 64:
            return None
        timestamp = int.from_bytes(sig[:8], "big")
        msg = cosignature_message(text, timestamp)
        try:
            nacl.signing.VerifyKey(self.public_key).verify(msg, bytes(sig[8:]))
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError, TypeError):
            return None
        return timestamp


def cosign(note_text: str, witness_name: str, witness_seed: bytes, timestamp: int) -> str:
    """Return ``note_text`` with a cosignature/v1 line by the witness added (replacing one by the same key).

    The witness should check the log signature and a consistency proof from the last checkpoint it cosigned
    before calling this.

    Raises:
        FormatError: the note or its checkpoint body is malformed, invalid witness name, seed not 32 bytes,
            timestamp out of range, or the result would carry more than 100 signatures.
    """
    cp, sigs = parse_checkpoint_note(note_text)
    if not isinstance(witness_seed, (bytes, bytearray)) or len(witness_seed) != 32:
        raise FormatError("witness seed must be 32 bytes")
    key = nacl.signing.SigningKey(bytes(witness_seed))
    wv = WitnessVerifier(witness_name, bytes(key.verify_key))
    text = cp.to_text()
    sig = timestamp.to_bytes(8, "big") + bytes(key.sign(cosignature_message(text, timestamp)).signature)
    kept = [s for s in sigs if (s.name, s.key_hash) != (wv.name, wv.key_hash)]
    line = Signature(wv.name, wv.key_hash, sig)
    out = text + "\n" + "".join(s.line() for s in [*kept, line])
    parse_note(out)
    return out


def _witnesses(witness_vkeys: Sequence[str]) -> dict[tuple[str, int], WitnessVerifier]:
    if isinstance(witness_vkeys, str):
        raise VerificationError("malformed", "witness keys must be a list of verifier key strings")
    out: dict[tuple[str, int], WitnessVerifier] = {}
    for vkey in witness_vkeys:
        try:
            w = WitnessVerifier.from_string(vkey)
        except FormatError as e:
            raise VerificationError("malformed", f"witness key: {e}") from e
        k = (w.name, w.key_hash)
        if k in out and out[k] != w:
            raise VerificationError("malformed", f"ambiguous witness keys {w.name}+{w.key_id}")
        out[k] = w
    return out


def _valid_cosignatures(note_text: str | bytes, witness_vkeys: Sequence[str]) -> dict[tuple[str, int], int]:
    witnesses = _witnesses(witness_vkeys)
    try:
        cp, sigs = parse_checkpoint_note(note_text)
    except FormatError as e:
        raise VerificationError("malformed", f"checkpoint: {e}") from e
    text = cp.to_text()
    valid: dict[tuple[str, int], int] = {}
    for s in sigs:
        k = (s.name, s.key_hash)
        w = witnesses.get(k)
        if w is None:
            continue
        if k in valid:
            raise VerificationError("malformed", f"witness {s.name}+{s.key_id} cosigns more than once")
        timestamp = w.verify(text, s.signature)
        if timestamp is None:
            raise VerificationError(
                "cosignature",
                f"cosignature by witness {s.name}+{s.key_id} does not verify",
                expected=f"{s.name}+{s.key_id}",
                found=s.base64,
            )
        valid[k] = timestamp
    return valid


def verify_cosignatures(note_text: str | bytes, witness_vkeys: Sequence[str]) -> dict[str, int]:
    """Return ``{witness name: timestamp}`` of the listed witnesses with a valid cosignature on the note.

    Lines by keys not listed are ignored. The log signature is not checked here (``verify_checkpoint``).

    Raises:
        VerificationError: ``kind="malformed"`` for a malformed note, body or witness key, or a witness line
            repeated; ``kind="cosignature"`` when a line by a listed witness does not verify.
    """
    return {name: ts for (name, _), ts in _valid_cosignatures(note_text, witness_vkeys).items()}


def check_witness_policy(note_text: str | bytes, witness_vkeys: Sequence[str], threshold: int) -> dict[str, int]:
    """Require valid cosignatures by at least ``threshold`` distinct listed witnesses; return them.

    Raises:
        VerificationError: as ``verify_cosignatures``, and ``kind="cosignature"`` (``expected`` the threshold,
            ``found`` the count) when fewer distinct listed witnesses cosigned.
        ValueError: ``threshold`` is negative or not an integer.
    """
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 0:
        raise ValueError("threshold must be a non-negative integer")
    valid = _valid_cosignatures(note_text, witness_vkeys)
    if len(valid) < threshold:
        raise VerificationError(
            "cosignature",
            f"witness policy needs {threshold} cosignatures, checkpoint has {len(valid)}",
            expected=threshold,
            found=len(valid),
        )
    return {name: ts for (name, _), ts in valid.items()}


def merge_cosignatures(stored_note: str, incoming_note: str, witness_vkeys: Sequence[str]) -> str:
    """The stored checkpoint with the valid cosignatures of listed witnesses from ``incoming_note`` added (each
    replacing an earlier line by the same witness key): how a log keeps what its witnesses return.

    Both notes must carry the same checkpoint text. Lines by keys not listed are dropped.

    Raises:
        VerificationError: ``kind="malformed"`` for a malformed note; ``kind="consistency"`` when the incoming
            note is for another checkpoint; ``kind="cosignature"`` when a listed witness's line does not verify
            or no listed witness cosigned the incoming note.
    """
    try:
        cp, stored_sigs = parse_checkpoint_note(stored_note)
        incoming_cp, incoming_sigs = parse_checkpoint_note(incoming_note)
    except FormatError as e:
        raise VerificationError("malformed", f"checkpoint: {e}") from e
    if incoming_cp.to_text() != cp.to_text():
        raise VerificationError(
            "consistency",
            "the cosigned note is not the stored checkpoint of that size",
            expected=_b64(cp.root),
            found=_b64(incoming_cp.root),
        )
    valid = _valid_cosignatures(incoming_note, witness_vkeys)
    if not valid:
        raise VerificationError("cosignature", "no listed witness cosigned this checkpoint", expected=1, found=0)
    lines = [s for s in stored_sigs if (s.name, s.key_hash) not in valid]
    lines += [s for s in incoming_sigs if (s.name, s.key_hash) in valid]
    return cp.to_text() + "\n" + "".join(s.line() for s in lines)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
