"""RFC 8785 (JSON Canonicalization Scheme) bytes of a JSON value.

Every byte string that lvyue hashes or signs is produced here. The format (docs/format.md, "Canonical JSON")
restricts values to objects, arrays, strings, integers in the IEEE-754 exact range (|n| <= 2**53 - 1),
``true``, ``false`` and ``null``; floating-point numbers are refused, so amounts are integers (fen).

Within that restriction, orjson with sorted keys emits exactly the JCS bytes when every object key is ASCII
(UTF-8 and UTF-16 code-unit orders agree there, and its string escaping is the one JCS prescribes). Values
with a non-ASCII key take the ``rfc8785`` reference implementation. ``docs/vectors/canonical.json`` pins both.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import rfc8785

from verifier.errors import CanonicalizationError

MAX_SAFE_INTEGER = 2**53 - 1

__all__ = ["MAX_SAFE_INTEGER", "canonicalize", "is_canonical", "parse_canonical"]


def _check(value: Any, path: str) -> bool:
    """Validate ``value`` against the restricted data model; return True when every key is ASCII."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return True
        raise CanonicalizationError(f"integer out of the exact range at {path or '$'}: {value}")
    if isinstance(value, dict):
        ascii_keys = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalizationError(f"object key is not a string at {path or '$'}: {key!r}")
            if not key.isascii():
                ascii_keys = False
            if not _check(item, f"{path}.{key}"):
                ascii_keys = False
        return ascii_keys
    if isinstance(value, (list, tuple)):
        ascii_keys = True
        for i, item in enumerate(value):
            if not _check(item, f"{path}[{i}]"):
                ascii_keys = False
        return ascii_keys
    if isinstance(value, float):
        raise CanonicalizationError(f"floating-point number at {path or '$'}: use an integer")
    raise CanonicalizationError(f"value of type {type(value).__name__} at {path or '$'} is not JSON")


def _fast_check(value: Any) -> bool | None:
    """The same verdict as ``_check`` without building paths: True (all keys ASCII), False (a non-ASCII key),
    or None when something is refused (``_check`` then says where)."""
    ascii_keys = True
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        v = pop()
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
                continue
            return None
        if t is dict:
            for key, item in v.items():
                if type(key) is not str:
                    return None
                if ascii_keys and not key.isascii():
                    ascii_keys = False
                push(item)
            continue
        if t is list or t is tuple:
            stack.extend(v)
            continue
        return None
    return ascii_keys


def canonicalize(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``value``.

    Raises:
        CanonicalizationError: ``value`` holds a float, an integer outside +-(2**53 - 1), a non-string key,
            or something that is not JSON.
    """
    verdict = _fast_check(value)
    if verdict is None:
        verdict = _check(value, "")  # raises, naming the place
    if verdict:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as e:  # pragma: no cover - _check refuses these first
        raise CanonicalizationError(str(e)) from e


class _Refused(ValueError):
    """A number the data model refuses (a fraction, an exponent, NaN or Infinity), met while parsing."""


def _refuse(token: str) -> Any:
    raise _Refused(token)


_DECODER = json.JSONDecoder(parse_float=_refuse, parse_constant=_refuse)
_STRICT = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def parse_canonical(data: bytes) -> Any:
    """Parse ``data`` as JSON and require it to be in canonical form already.

    The common case takes one pass of the standard library's C parser, which calls back only on a fraction,
    an exponent or a non-finite literal (all refused), and one orjson serialisation with sorted keys and the
    exact integer range, compared with ``data``. Without characters beyond U+FFFF, UTF-16 and code-point key
    orders agree, so that serialisation is the canonical form. Anything else (a refused number, a character
    beyond U+FFFF, bytes that do not parse) takes the full check, which also names what is wrong.

    Raises:
        CanonicalizationError: ``data`` is not JSON, or is JSON but not byte-for-byte canonical.
    """
    # lead bytes of the UTF-8 sequences beyond U+FFFF
    if not (b"\xf0" in data or b"\xf1" in data or b"\xf2" in data or b"\xf3" in data or b"\xf4" in data):
        try:
            value = _DECODER.decode(data.decode("utf-8"))
            out = orjson.dumps(value, option=_STRICT)
        except (ValueError, orjson.JSONEncodeError):  # JSONDecodeError, UnicodeDecodeError, _Refused
            pass
        else:
            if out != data:
                raise CanonicalizationError("JSON is not in RFC 8785 canonical form")
            return value
    return _parse_canonical_fully(data)


def _parse_canonical_fully(data: bytes) -> Any:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise CanonicalizationError(f"not JSON: {e}") from e
    if canonicalize(value) != data:
        raise CanonicalizationError("JSON is not in RFC 8785 canonical form")
    return value


def is_canonical(data: bytes) -> bool:
    """True when ``data`` is JSON in canonical form (a convenience for assertions and tests)."""
    try:
        parse_canonical(data)
    except CanonicalizationError:
        return False
    return True
