"""Identifiers (docs/format.md section 2): credit codes, citizen IDs, pseudonyms, key and aggregate ids.

Unified social credit codes follow GB 32100-2015, citizen ID numbers GB 11643-1999. Persons enter the log only
as pseudonyms ``psn:`` + 32 hex digits of HMAC-SHA256 under the platform's pseudonym key.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import re
import uuid

from verifier.errors import FormatError, IdentifierError

__all__ = [
    "CITIZEN_ID_WEIGHTS",
    "CREDIT_CODE_CHARSET",
    "CREDIT_CODE_WEIGHTS",
    "NAMESPACE",
    "check_citizen_id",
    "check_credit_code",
    "check_key_id",
    "check_subject_id",
    "citizen_id_check_digit",
    "credit_code_check_character",
    "is_credit_code",
    "is_key_id",
    "is_pseudonym",
    "key_id",
    "log_aggregate",
    "make_citizen_id",
    "make_credit_code",
    "mask_subject_id",
    "pseudonym",
    "subject_aggregate",
]

CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CITIZEN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CITIZEN_CHECK = "10X98765432"  # index: weighted sum mod 11

NAMESPACE = uuid.UUID("1f9c1fb2-bf17-5f97-955b-566ac5624ebc")

_VALUE = {c: i for i, c in enumerate(CREDIT_CODE_CHARSET)}
_PSEUDONYM = re.compile(r"psn:[0-9a-f]{32}")
_KEY_ID = re.compile(r"ed25519:[0-9a-f]{16}")


def _credit_code_sum_check(first17: str) -> str:
    total = sum(_VALUE[c] * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def _check_credit_code_body(code: str, length: int) -> None:
    """Length, charset and division checks shared by the full code and its first 17 characters."""
    if len(code) != length:
        raise IdentifierError(f"credit code must have {length} characters, has {len(code)}", value=code, part="length")
    for pos, c in enumerate(code, start=1):
        if c not in _VALUE:
            raise IdentifierError(
                f"credit code character {c!r} at position {pos} is not in the GB 32100 character set",
                value=code,
                part="charset",
            )
    if not code[2:8].isdigit() or not code[2:8].isascii():
        raise IdentifierError(
            f"credit code positions 3-8 (administrative division) must be digits, found {code[2:8]!r}",
            value=code,
            part="division",
        )


def credit_code_check_character(first17: str) -> str:
    """The GB 32100-2015 check character (position 18) for the first 17 characters of a credit code.

    Raises:
        IdentifierError: ``first17`` has the wrong length (part ``length``), a character outside
            CREDIT_CODE_CHARSET (``charset``) or a non-digit in positions 3-8 (``division``).
    """
    first17 = first17.upper()
    _check_credit_code_body(first17, 17)
    return _credit_code_sum_check(first17)


def make_credit_code(first17: str) -> str:
    """Complete 17 characters to a valid credit code by appending its check character.

    Raises:
        IdentifierError: as credit_code_check_character.
    """
    return first17.upper() + credit_code_check_character(first17)


def check_credit_code(code: str) -> str:
    """Validate a unified social credit code (GB 32100-2015) and return it normalised to upper case.

    Raises:
        IdentifierError: ``part`` is ``length`` (not 18 characters), ``charset`` (the message names the
            position), ``division`` (positions 3-8 not digits) or ``check_character`` (the message gives the
            expected and the found character).
    """
    if not isinstance(code, str):
        raise IdentifierError(f"credit code must be a string, not {type(code).__name__}", part="length")
    norm = code.upper()
    _check_credit_code_body(norm, 18)
    expected = _credit_code_sum_check(norm[:17])
    if norm[17] != expected:
        raise IdentifierError(
            f"credit code check character: expected {expected!r}, found {norm[17]!r}",
            value=code,
            part="check_character",
        )
    return norm


def is_credit_code(s: object) -> bool:
    """True when ``s`` is a valid credit code already in normal (upper-case) form."""
    if not isinstance(s, str):
        return False
    try:
        return check_credit_code(s) == s
    except IdentifierError:
        return False


def _check_citizen_first17(first17: str, value: str) -> None:
    if not (first17.isascii() and first17.isdigit()):
        pos = next(i for i, c in enumerate(first17, start=1) if not (c.isascii() and c.isdigit()))
        raise IdentifierError(
            f"citizen ID number position {pos} must be a digit, found {first17[pos - 1]!r}",
            value=value,
            part="charset",
        )
    try:
        datetime.date(int(first17[6:10]), int(first17[10:12]), int(first17[12:14]))
    except ValueError:
        raise IdentifierError(
            f"citizen ID number birth date {first17[6:14]!r} is not a calendar date",
            value=value,
            part="birth_date",
        ) from None


def _citizen_sum_check(first17: str) -> str:
    return _CITIZEN_CHECK[sum(int(c) * w for c, w in zip(first17, CITIZEN_ID_WEIGHTS, strict=True)) % 11]


def citizen_id_check_digit(first17: str) -> str:
    """The GB 11643-1999 check digit (``0``-``9`` or ``X``) for the first 17 digits of a citizen ID number.

    Raises:
        IdentifierError: part ``length``, ``charset`` (a non-digit, with its position) or ``birth_date``.
    """
    if len(first17) != 17:
        raise IdentifierError(
            f"citizen ID number prefix must have 17 digits, has {len(first17)}", value=first17, part="length"
        )
    _check_citizen_first17(first17, first17)
    return _citizen_sum_check(first17)


def make_citizen_id(first17: str) -> str:
    """Complete 17 digits to a valid citizen ID number by appending the check digit.

    Raises:
        IdentifierError: as citizen_id_check_digit.
    """
    return first17 + citizen_id_check_digit(first17)


def check_citizen_id(id_number: str) -> str:
    """Validate an 18-character citizen ID number (GB 11643-1999) and return it upper-cased.

    Raises:
        IdentifierError: part ``length``, ``charset`` (position named), ``birth_date`` (positions 7-14 not a
            calendar date) or ``check_character`` (expected and found digit in the message).
    """
    if not isinstance(id_number, str):
        raise IdentifierError("citizen ID number must be a string", part="length")
    norm = id_number.upper()
    if len(norm) != 18:
        raise IdentifierError(
            f"citizen ID number must have 18 characters, has {len(norm)}", value=id_number, part="length"
        )
    _check_citizen_first17(norm[:17], id_number)
    last = norm[17]
    if last not in "0123456789X":
        raise IdentifierError(
            f"citizen ID number position 18 must be a digit or X, found {last!r}",
            value=id_number,
            part="charset",
        )
    expected = _citizen_sum_check(norm[:17])
    if last != expected:
        raise IdentifierError(
            f"citizen ID number check digit: expected {expected!r}, found {last!r}",
            value=id_number,
            part="check_character",
        )
    return norm


def pseudonym(pseudonym_key: bytes, id_number: str) -> str:
    """The subject id of a person: ``psn:`` + hex(HMAC-SHA256(pseudonym_key, ID number))[0:32].

    The ID number is validated and upper-cased first, so ``x`` and ``X`` give the same pseudonym.

    Raises:
        IdentifierError: the ID number is invalid (see check_citizen_id).
        FormatError: the pseudonym key is empty.
    """
    if not isinstance(pseudonym_key, bytes) or not pseudonym_key:
        raise FormatError("pseudonym key must be non-empty bytes")
    norm = check_citizen_id(id_number)
    return "psn:" + hmac.new(pseudonym_key, norm.encode("ascii"), hashlib.sha256).hexdigest()[:32]


def is_pseudonym(s: object) -> bool:
    """True when ``s`` has the pseudonym form ``psn:`` + 32 lower-case hex digits."""
    return isinstance(s, str) and _PSEUDONYM.fullmatch(s) is not None


@functools.lru_cache(maxsize=65536)
def _check_subject_id_cached(s: str) -> str:
    if is_pseudonym(s):
        return s
    if s.startswith("psn:"):
        raise IdentifierError("pseudonym must be psn: followed by 32 lower-case hex digits", value=s, part="pseudonym")
    return check_credit_code(s)


def check_subject_id(s: str) -> str:
    """Validate a subject id (a credit code or a pseudonym) and return its normal form.

    Raises:
        IdentifierError: neither a pseudonym nor a valid credit code (``part`` from check_credit_code;
            ``pseudonym`` when it starts with ``psn:`` but is malformed).
    """
    if not isinstance(s, str):
        raise IdentifierError(f"subject id must be a string, not {type(s).__name__}", part="type")
    return _check_subject_id_cached(s)


def key_id(public_key: bytes) -> str:
    """The key id ``ed25519:`` + hex(SHA-256(public key)[0:8]) of an Ed25519 public key.

    Raises:
        FormatError: ``public_key`` is not 32 bytes.
    """
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        n = len(public_key) if isinstance(public_key, bytes) else type(public_key).__name__
        raise FormatError(f"an Ed25519 public key has 32 bytes, got {n}")
    return "ed25519:" + hashlib.sha256(public_key).digest()[:8].hex()


def is_key_id(s: object) -> bool:
    """True when ``s`` has the key id form ``ed25519:`` + 16 lower-case hex digits."""
    return isinstance(s, str) and _KEY_ID.fullmatch(s) is not None


def check_key_id(s: object) -> str:
    """Return ``s`` when it has the key id form.

    Raises:
        FormatError: it does not.
    """
    if not is_key_id(s):
        raise FormatError(f"key id must be ed25519: followed by 16 lower-case hex digits, got {s!r}")
    assert isinstance(s, str)
    return s


def subject_aggregate(subject: str) -> str:
    """The subject aggregate id: uuid5(NAMESPACE, "subject:" + subject), lower-case hyphenated."""
    return str(uuid.uuid5(NAMESPACE, "subject:" + subject))


def log_aggregate(origin: str) -> str:
    """The log aggregate id: uuid5(NAMESPACE, "log:" + origin), lower-case hyphenated."""
    return str(uuid.uuid5(NAMESPACE, "log:" + origin))


def mask_subject_id(s: str) -> str:
    """The form of a subject id shown in public views.

    A credit code keeps positions 1-8 (authority, type, division) and the last 4, the 6 between are ``*``;
    a pseudonym is shortened to ``psn:`` + its first 8 hex digits + ``…``. Anything else is returned with
    all but its first 2 and last 2 characters masked.
    """
    if is_pseudonym(s):
        return s[:12] + "…"
    if len(s) == 18:
        return s[:8] + "*" * 6 + s[14:]
    if len(s) <= 4:
        return "*" * len(s)
    return s[:2] + "*" * (len(s) - 4) + s[-2:]
