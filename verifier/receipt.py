"""Receipts: the log's signed promise that it accepted a statement (docs/format.md, section 8).

A receipt is ``{"origin", "index", "entry_hash", "signature"}`` with ``signature`` =
``base64(Ed25519(log key, "lvyue/receipt/v1\\n" origin "\\n" index "\\n" entry_hash "\\n"))`` and
``entry_hash`` the lower-case hex SHA-256 of the entry bytes.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from verifier.errors import FormatError, VerificationError
from verifier.note import Signer, Verifier, b64decode_canonical, is_valid_name

__all__ = ["RECEIPT_CONTEXT", "make_receipt", "receipt_message", "verify_receipt"]

RECEIPT_CONTEXT = b"lvyue/receipt/v1\n"
"""First line of every receipt's signed message."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
_FIELDS = frozenset({"origin", "index", "entry_hash", "signature"})
MAX_INDEX = 2**63 - 1


def receipt_message(origin: str, index: int, entry_hash_hex: str) -> bytes:
    """Return the bytes the log signs for a receipt.

    Raises:
        FormatError: ``origin`` is not a valid key name, ``index`` is not an integer in ``[0, 2**63 - 1]``, or
            ``entry_hash_hex`` is not 64 lower-case hex digits.
    """
    if not isinstance(origin, str) or not is_valid_name(origin):
        raise FormatError(f"receipt origin {origin!r} is not a valid log name")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= MAX_INDEX:
        raise FormatError("receipt index must be a non-negative integer")
    if not isinstance(entry_hash_hex, str) or not _HEX64.fullmatch(entry_hash_hex):
        raise FormatError("receipt entry hash must be 64 lower-case hex digits")
    return RECEIPT_CONTEXT + f"{origin}\n{index}\n{entry_hash_hex}\n".encode()


def make_receipt(origin: str, index: int, entry_hash: bytes, log_signing_key_seed: bytes | Signer) -> dict[str, Any]:
    """Return the receipt for entry ``index`` with hash ``entry_hash``, signed with the log key (its 32-byte seed,
    or a ``Signer`` made from it once and reused).

    Raises:
        FormatError: invalid origin or index, ``entry_hash`` not 32 bytes, or the seed not 32 bytes.
    """
    if not isinstance(entry_hash, (bytes, bytearray)) or len(entry_hash) != 32:
        raise FormatError("entry hash must be 32 bytes")
    entry_hash_hex = bytes(entry_hash).hex()
    msg = receipt_message(origin, index, entry_hash_hex)
    signer = log_signing_key_seed if isinstance(log_signing_key_seed, Signer) else Signer(origin, log_signing_key_seed)
    sig = signer.sign(msg)
    return {
        "origin": origin,
        "index": index,
        "entry_hash": entry_hash_hex,
        "signature": base64.b64encode(sig).decode("ascii"),
    }


def verify_receipt(receipt: Mapping[str, Any], log_verifier_key: str) -> None:
    """Check a receipt against the log's verifier key string.

    Raises:
        VerificationError: ``kind="malformed"`` when the receipt does not have exactly the four members with
            the right types and forms, or the key string is malformed; ``kind="origin"`` when it names another
            log than the key; ``kind="signature"`` when the signature does not verify. ``index`` is the
            receipt's index when it is one.
    """
    if not isinstance(receipt, Mapping):
        raise VerificationError("malformed", "receipt must be an object")
    if set(receipt) != _FIELDS:
        raise VerificationError(
            "malformed",
            "receipt must have exactly the members origin, index, entry_hash, signature",
            expected=sorted(_FIELDS),
            found=sorted(str(k) for k in receipt),
        )
    index = receipt["index"]
    at = index if isinstance(index, int) and not isinstance(index, bool) else None
    try:
        verifier = Verifier.from_string(log_verifier_key)
    except FormatError as e:
        raise VerificationError("malformed", f"log verifier key: {e}", index=at) from e
    try:
        msg = receipt_message(receipt["origin"], index, receipt["entry_hash"])
        sig_s = receipt["signature"]
        if not isinstance(sig_s, str):
            raise FormatError("receipt signature must be a string")
        sig = b64decode_canonical(sig_s, "receipt signature")
        if len(sig) != 64:
            raise FormatError(f"receipt signature is {len(sig)} bytes, not 64")
    except FormatError as e:
        raise VerificationError("malformed", f"receipt: {e}", index=at) from e
    if receipt["origin"] != verifier.name:
        raise VerificationError(
            "origin",
            f"receipt is for log {receipt['origin']!r}, not {verifier.name!r}",
            index=at,
            expected=verifier.name,
            found=receipt["origin"],
        )
    if not verifier.verify(msg, sig):
        raise VerificationError(
            "signature",
            f"receipt signature does not verify with log key {verifier.name}+{verifier.key_id}",
            index=at,
            expected=f"{verifier.name}+{verifier.key_id}",
            found=sig_s,
        )
