"""Log entries (docs/format.md section 4): their canonical bytes and their parsing.

An entry is the canonical JSON of ``{index, prev, links, statement, signatures, received}``. This module is the
one place that writes those bytes (``encode_entry``) and the one place that reads them back (``parse_entry``),
refusing anything that is not exactly the canonical form of a well-shaped entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from verifier.canonical import MAX_SAFE_INTEGER, canonicalize, parse_canonical
from verifier.errors import CanonicalizationError, FormatError

__all__ = ["ENTRY_MEMBERS", "Entry", "encode_entry", "parse_entry"]

ENTRY_MEMBERS = frozenset({"index", "prev", "links", "statement", "signatures", "received"})
_HEX64 = re.compile(r"[0-9a-f]{64}")
_RECEIVED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
MAX_ENTRY_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Entry:
    """A parsed entry. ``raw`` is the exact bytes it was parsed from (what is hashed)."""

    index: int
    prev: str | None
    links: Mapping[str, int | None]
    statement: Mapping[str, Any]
    signatures: Sequence[Mapping[str, Any]]
    received: str
    raw: bytes

    @property
    def concerns(self) -> tuple[str, ...]:
        """The subjects this entry concerns, sorted (the keys of ``links``)."""
        return tuple(sorted(self.links))


def encode_entry(
    index: int,
    prev: bytes | None,
    links: Mapping[str, int | None],
    statement: Mapping[str, Any],
    signatures: Sequence[Mapping[str, Any]],
    received: str,
    *,
    statement_bytes: bytes | None = None,
) -> bytes:
    """Return the canonical bytes of an entry. ``prev`` is the previous entry's hash (raw bytes) or None.

    ``statement_bytes``, when given, must be canonical(statement) (already computed to check its signatures):
    RFC 8785 serialises each member's value on its own and the entry's members have ASCII names, so the entry
    is those parts joined in member order, byte for byte what canonicalising the whole would give (the tests
    check this against the vectors).

    Raises:
        CanonicalizationError: the statement or signatures hold values outside the canonical data model.
    """
    if statement_bytes is not None and _plain_parts(index, links, signatures, received):
        try:
            return _join(index, prev, links, signatures, received, statement_bytes)
        except orjson.JSONEncodeError:  # a string orjson refuses (a lone surrogate): the full path names it
            pass
    return canonicalize(
        {
            "index": index,
            "prev": prev.hex() if prev is not None else None,
            "links": dict(links),
            "statement": statement,
            "signatures": list(signatures),
            "received": received,
        }
    )


def _join(
    index: int,
    prev: bytes | None,
    links: Mapping[str, int | None],
    signatures: Sequence[Mapping[str, Any]],
    received: str,
    statement_bytes: bytes,
) -> bytes:
    return b"".join(
        (
            b'{"index":',
            str(index).encode("ascii"),
            b',"links":',
            orjson.dumps(dict(links), option=orjson.OPT_SORT_KEYS),
            b',"prev":',
            b'"' + prev.hex().encode("ascii") + b'"' if prev is not None else b"null",
            b',"received":',
            orjson.dumps(received),
            b',"signatures":',
            orjson.dumps(list(signatures), option=orjson.OPT_SORT_KEYS),
            b',"statement":',
            statement_bytes,
            b"}",
        )
    )


def _plain_parts(
    index: object, links: Mapping[str, int | None], signatures: Sequence[Mapping[str, Any]], received: object
) -> bool:
    """True when the members besides the statement are of the plain shapes orjson with sorted keys writes in
    canonical form directly: an index and links that are exact-range integers (or null), ASCII subject ids and
    signature member names, string signature values and received time."""
    if type(index) is not int or not 0 <= index <= MAX_SAFE_INTEGER or type(received) is not str:
        return False
    for subject, link in links.items():
        if type(subject) is not str or not subject.isascii():
            return False
        if link is not None and (type(link) is not int or not 0 <= link <= MAX_SAFE_INTEGER):
            return False
    for sig in signatures:
        if type(sig) is not dict:
            return False
        for name, value in sig.items():
            if type(name) is not str or not name.isascii() or type(value) is not str:
                return False
    return True


def parse_entry(data: bytes) -> Entry:
    """Parse entry bytes, requiring the canonical form and the shape of docs/format.md section 4.

    Raises:
        FormatError: the bytes are not canonical JSON, or the entry's members are missing, extra or ill-typed.
    """
    if len(data) > MAX_ENTRY_BYTES:
        raise FormatError(f"entry of {len(data)} bytes exceeds {MAX_ENTRY_BYTES}")
    try:
        value = parse_canonical(data)
    except CanonicalizationError as e:
        raise FormatError(f"entry: {e}") from e
    if not isinstance(value, dict) or set(value) != ENTRY_MEMBERS:
        found = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise FormatError(f"entry members must be {sorted(ENTRY_MEMBERS)}, found {found}")
    index = value["index"]
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise FormatError(f"entry index must be a non-negative integer, found {index!r}")
    prev = value["prev"]
    if index == 0 and prev is not None:
        raise FormatError("entry 0 must have prev null")
    if index > 0 and (not isinstance(prev, str) or not _HEX64.fullmatch(prev)):
        raise FormatError(f"entry {index}: prev must be 64 lower-case hex digits")
    links = value["links"]
    if not isinstance(links, dict) or not links:
        raise FormatError(f"entry {index}: links must be a non-empty object")
    for subject, link in links.items():
        if link is not None and (not isinstance(link, int) or isinstance(link, bool) or not 0 <= link < index):
            raise FormatError(f"entry {index}: link for {subject} must be null or an earlier index")
    if not isinstance(value["statement"], dict):
        raise FormatError(f"entry {index}: statement must be an object")
    signatures = value["signatures"]
    if not isinstance(signatures, list) or not signatures or not all(isinstance(s, dict) for s in signatures):
        raise FormatError(f"entry {index}: signatures must be a non-empty array of objects")
    received = value["received"]
    if not isinstance(received, str) or not _RECEIVED.fullmatch(received):
        raise FormatError(f"entry {index}: received must be YYYY-MM-DDTHH:MM:SS.ffffffZ")
    return Entry(index, prev, links, value["statement"], signatures, received, data)
