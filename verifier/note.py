"""C2SP signed notes with Ed25519 keys: keys, signing and opening (docs/format.md, section 5).

A port of Go's ``golang.org/x/mod/sumdb/note``. A note is a text ending in a newline, a blank line, and one
signature line ``"— " name " " base64(keyhash || signature) "\n"`` per signature. ``keyhash`` is
``SHA-256(name || "\n" || alg || key)[0:4]`` read big-endian, ``alg`` 0x01 for Ed25519. Verifier keys are
``name "+" hex8(keyhash) "+" base64(alg || public key)``; signer keys add a ``PRIVATE+KEY+`` prefix and carry
the 32-byte Ed25519 seed in place of the public key.

The parser is stricter than Go's: besides the 1 MiB and 100-signature caps and the character rules, it refuses
non-canonical base64, upper-case key hashes and repeated signatures by a known key (Go ignores the repeats).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Self

import nacl.exceptions
import nacl.signing

from verifier.errors import FormatError, SignatureError, UnknownKeyError

__all__ = [
    "ALG_ED25519",
    "MAX_NOTE_SIZE",
    "MAX_SIGNATURES",
    "Note",
    "Signature",
    "Signer",
    "Verifier",
    "b64decode_canonical",
    "is_valid_name",
    "key_hash",
    "open_note",
    "parse_note",
    "parse_verifier_key",
    "sign_note",
    "signer_key_string",
    "verifier_key_string",
]

ALG_ED25519 = 0x01
"""Signature algorithm byte of Ed25519 note signatures."""

MAX_NOTE_SIZE = 1 << 20
"""Largest note accepted, in bytes."""

MAX_SIGNATURES = 100
"""Most signature lines accepted on one note."""

SIG_PREFIX = "— "
_HEX8 = re.compile(r"[0-9a-f]{8}")


def b64decode_canonical(s: str, what: str = "value") -> bytes:
    """Decode standard padded base64, refusing anything that does not re-encode to ``s`` exactly.

    Raises:
        FormatError: ``s`` is not canonical standard base64.
    """
    try:
        raw = base64.b64decode(s.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as e:
        raise FormatError(f"{what} is not base64: {e}") from e
    if base64.b64encode(raw).decode("ascii") != s:
        raise FormatError(f"{what} is not canonical base64")
    return raw


def is_valid_name(name: str) -> bool:
    """True when ``name`` can name a key: non-empty, no white space, no ``+`` (Go's ``isValidName``)."""
    return isinstance(name, str) and _valid_name(name)


@functools.lru_cache(maxsize=1024)
def _valid_name(name: str) -> bool:
    return (
        name != ""
        and "+" not in name
        and not any(c.isspace() for c in name)
        and not any(0xD800 <= ord(c) <= 0xDFFF for c in name)
    )


def key_hash(name: str, alg_and_key: bytes) -> int:
    """Return the key hash: the first 4 bytes of ``SHA-256(name || "\\n" || alg_and_key)``, big-endian.

    Raises:
        FormatError: ``name`` is not a valid key name.
    """
    if not is_valid_name(name):
        raise FormatError(f"invalid key name {name!r}")
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes(alg_and_key)).digest()
    return int.from_bytes(digest[:4], "big")


def parse_verifier_key(vkey: str) -> tuple[str, int, bytes]:
    """Split a verifier key string into ``(name, key_hash, alg_and_key)`` and check its key hash.

    The algorithm is not interpreted here (``Verifier.from_string`` accepts only Ed25519, the checkpoint
    module parses witness keys).

    Raises:
        FormatError: the string is not ``name+hex8+base64``, is not canonical, or its key hash is wrong.
    """
    if not isinstance(vkey, str):
        raise FormatError("verifier key must be a string")
    parts = vkey.split("+", 2)  # base64 may itself hold "+"
    if len(parts) != 3:
        raise FormatError("verifier key is not of the form name+hash+key")
    name, hash16, key64 = parts
    if not is_valid_name(name):
        raise FormatError(f"verifier key has an invalid name {name!r}")
    if not _HEX8.fullmatch(hash16):
        raise FormatError("verifier key hash is not 8 lower-case hex digits")
    alg_and_key = b64decode_canonical(key64, "verifier key")
    if len(alg_and_key) < 2:
        raise FormatError("verifier key is empty")
    if int(hash16, 16) != key_hash(name, alg_and_key):
        raise FormatError("verifier key hash does not match its name and key")
    return name, int(hash16, 16), alg_and_key


def verifier_key_string(name: str, public_key: bytes) -> str:
    """Return the Ed25519 verifier key string ``name+hex8(keyhash)+base64(0x01 || public key)``.

    Raises:
        FormatError: invalid name, or ``public_key`` is not 32 bytes.
    """
    if len(public_key) != 32:
        raise FormatError(f"Ed25519 public key must be 32 bytes, got {len(public_key)}")
    alg_and_key = bytes([ALG_ED25519]) + bytes(public_key)
    h = key_hash(name, alg_and_key)
    return f"{name}+{h:08x}+{base64.b64encode(alg_and_key).decode('ascii')}"


def signer_key_string(name: str, seed: bytes) -> str:
    """Return the signer key string ``PRIVATE+KEY+name+hex8(keyhash)+base64(0x01 || seed)`` (Go's form).

    The key hash is that of the public key, so the verifier key string has the same ``name+hex8`` part.

    Raises:
        FormatError: invalid name, or ``seed`` is not 32 bytes.
    """
    signer = Signer(name, seed)
    key64 = base64.b64encode(bytes([ALG_ED25519]) + bytes(seed)).decode("ascii")
    return f"PRIVATE+KEY+{name}+{signer.key_hash:08x}+{key64}"


@dataclass(frozen=True)
class NoteKey:
    """A named Ed25519 public key as signed notes name it: name, key, and the key hash over the signature type
    byte ``algorithm`` and the key (0x01 for note signatures, 0x04 for cosignature/v1 witnesses)."""

    algorithm: ClassVar[int] = ALG_ED25519
    name: str
    public_key: bytes
    key_hash: int = field(init=False)

    def __post_init__(self) -> None:
        """Check the name and key, compute the key hash.

        Raises:
            FormatError: invalid name, or the public key is not 32 bytes.
        """
        if not is_valid_name(self.name):
            raise FormatError(f"invalid key name {self.name!r}")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise FormatError("Ed25519 public key must be 32 bytes")
        object.__setattr__(self, "key_hash", key_hash(self.name, bytes([self.algorithm]) + self.public_key))

    @classmethod
    def from_string(cls, vkey: str) -> Self:
        """Parse an Ed25519 verifier key string (Go's ``note.NewVerifier``).

        Raises:
            FormatError: the string is malformed, not canonical, its hash is wrong, or the key is not Ed25519.
        """
        name, _, alg_and_key = parse_verifier_key(vkey)
        if alg_and_key[0] != cls.algorithm:
            raise FormatError(f"verifier key algorithm {alg_and_key[0]:#04x} is not {cls.algorithm:#04x}")
        if len(alg_and_key) != 33:
            raise FormatError("an Ed25519 verifier key holds a 32-byte public key")
        return cls(name, alg_and_key[1:])

    @property
    def key_id(self) -> str:
        """The key hash as 8 hex digits."""
        return f"{self.key_hash:08x}"


@dataclass(frozen=True)
class Verifier(NoteKey):
    """An Ed25519 note verifier (signature type 0x01)."""

    def to_string(self) -> str:
        """The verifier key string. Raises nothing."""
        return verifier_key_string(self.name, self.public_key)

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """True when ``sig`` is a valid Ed25519 signature of ``msg`` by this key. Raises nothing."""
        if not isinstance(sig, (bytes, bytearray)) or len(sig) != 64:
            return False
        try:
            nacl.signing.VerifyKey(self.public_key).verify(bytes(msg), bytes(sig))
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError, TypeError):
            return False
        return True


class Signer:
    """An Ed25519 note signer: a key name and a 32-byte seed."""

    def __init__(self, name: str, seed: bytes) -> None:
        """Make a signer named ``name`` from an Ed25519 seed.

        Raises:
            FormatError: invalid name, or ``seed`` is not 32 bytes.
        """
        if not is_valid_name(name):
            raise FormatError(f"invalid key name {name!r}")
        if not isinstance(seed, (bytes, bytearray)) or len(seed) != 32:
            raise FormatError("Ed25519 seed must be 32 bytes")
        self._key = nacl.signing.SigningKey(bytes(seed))
        self.name = name
        self.public_key = bytes(self._key.verify_key)
        self.key_hash = key_hash(name, bytes([ALG_ED25519]) + self.public_key)

    @classmethod
    def from_string(cls, skey: str) -> Signer:
        """Parse a ``PRIVATE+KEY+name+hex8+base64(0x01 || seed)`` signer key (Go's ``note.NewSigner``).

        Raises:
            FormatError: the string is malformed or not canonical, the key is not Ed25519, or its hash does
                not match the public key derived from the seed.
        """
        if not isinstance(skey, str):
            raise FormatError("signer key must be a string")
        parts = skey.split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise FormatError("signer key is not of the form PRIVATE+KEY+name+hash+key")
        name, hash16, key64 = parts[2:]
        if not _HEX8.fullmatch(hash16):
            raise FormatError("signer key hash is not 8 lower-case hex digits")
        raw = b64decode_canonical(key64, "signer key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise FormatError("signer key is not an Ed25519 seed")
        signer = cls(name, raw[1:])
        if signer.key_hash != int(hash16, 16):
            raise FormatError("signer key hash does not match its public key")
        return signer

    @property
    def key_id(self) -> str:
        """The key hash as 8 hex digits."""
        return f"{self.key_hash:08x}"

    def verifier(self) -> Verifier:
        """The matching verifier. Raises nothing."""
        return Verifier(self.name, self.public_key)

    def verifier_key(self) -> str:
        """The matching verifier key string. Raises nothing."""
        return verifier_key_string(self.name, self.public_key)

    def sign(self, msg: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``msg``. Raises nothing."""
        return bytes(self._key.sign(bytes(msg)).signature)


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, key hash and the signature bytes that follow the key hash."""

    name: str
    key_hash: int
    signature: bytes

    @property
    def key_id(self) -> str:
        """The key hash as 8 hex digits."""
        return f"{self.key_hash:08x}"

    @property
    def base64(self) -> str:
        """``base64(keyhash || signature)``, as written on the line."""
        return base64.b64encode(self.key_hash.to_bytes(4, "big") + self.signature).decode("ascii")

    def line(self) -> str:
        """The signature line, with its newline."""
        return f"{SIG_PREFIX}{self.name} {self.base64}\n"


@dataclass(frozen=True)
class Note:
    """An opened note: its text, the signatures verified and those by keys not given."""

    text: str
    sigs: tuple[Signature, ...]
    unverified_sigs: tuple[Signature, ...]


def _to_bytes(msg: bytes | str) -> bytes:
    if isinstance(msg, str):
        try:
            return msg.encode("utf-8")
        except UnicodeEncodeError as e:
            raise FormatError("note is not valid UTF-8") from e
    if isinstance(msg, (bytes, bytearray, memoryview)):
        return bytes(msg)
    raise FormatError(f"note must be bytes or str, not {type(msg).__name__}")


def parse_note(msg: bytes | str) -> tuple[str, list[Signature]]:
    """Split a signed note into its text and its signature lines, without verifying anything.

    Raises:
        FormatError: the note is larger than 1 MiB, not UTF-8, holds a control character other than newline,
            has no signature block, has a malformed or non-canonical signature line, or more than 100 of them.
    """
    data = _to_bytes(msg)
    if len(data) > MAX_NOTE_SIZE:
        raise FormatError(f"note is larger than {MAX_NOTE_SIZE} bytes")
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError("note is not valid UTF-8") from e
    for c in s:
        if (ord(c) < 0x20 and c != "\n") or c == "\x7f":
            raise FormatError(f"note holds control character {ord(c):#04x}")
    split = s.rfind("\n\n")
    if split < 0:
        raise FormatError("note has no signature block (no blank line)")
    text, block = s[: split + 1], s[split + 2 :]
    if not block or not block.endswith("\n"):
        raise FormatError("note does not end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise FormatError(f"note has more than {MAX_SIGNATURES} signatures")
    sigs = []
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise FormatError("signature line does not start with an em dash and a space")
        rest = line[len(SIG_PREFIX) :]
        name, sep, b64 = rest.partition(" ")
        if not sep or not is_valid_name(name) or not b64:
            raise FormatError("malformed signature line")
        raw = b64decode_canonical(b64, f"signature of {name}")
        if len(raw) < 5:
            raise FormatError(f"signature of {name} is too short")
        sigs.append(Signature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return text, sigs


def _verifier_map(verifiers: Iterable[Verifier]) -> dict[tuple[str, int], Verifier]:
    known: dict[tuple[str, int], Verifier] = {}
    for v in verifiers:
        k = (v.name, v.key_hash)
        if k in known and known[k] != v:
            raise FormatError(f"ambiguous verifier keys {v.name}+{v.key_id}")
        known[k] = v
    return known


def open_note(msg: bytes | str, verifiers: Sequence[Verifier]) -> Note:
    """Parse a signed note and verify every signature made by one of ``verifiers`` (Go's ``note.Open``).

    Signatures by other keys are returned unverified; identical repeats of those are dropped. A known key
    signing twice makes the note malformed.

    Raises:
        FormatError: the note is malformed (see ``parse_note``), two verifiers share a name and key hash, or a
            known key signs more than once.
        SignatureError: a signature by a known key does not verify (``name`` and ``key_id`` say whose).
        UnknownKeyError: no signature is by a known key.
    """
    known = _verifier_map(verifiers)
    text, sigs = parse_note(msg)
    text_bytes = text.encode("utf-8")
    verified: list[Signature] = []
    unverified: list[Signature] = []
    seen: set[tuple[str, int]] = set()
    seen_unverified: set[Signature] = set()
    for sig in sigs:
        k = (sig.name, sig.key_hash)
        v = known.get(k)
        if v is None:
            if sig not in seen_unverified:
                seen_unverified.add(sig)
                unverified.append(sig)
            continue
        if k in seen:
            raise FormatError(f"key {sig.name}+{sig.key_id} signs the note more than once")
        seen.add(k)
        if not v.verify(text_bytes, sig.signature):
            raise SignatureError(f"invalid signature for key {sig.name}+{sig.key_id}", key_id=sig.key_id, name=sig.name)
        verified.append(sig)
    if not verified:
        names = ", ".join(f"{v.name}+{v.key_id}" for v in known.values())
        raise UnknownKeyError(f"note has no signature by a known key ({names or 'none given'})")
    return Note(text, tuple(verified), tuple(unverified))


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    """Return the signed note: ``text``, a blank line, one signature line per signer in order (``note.Sign``).

    Raises:
        FormatError: ``text`` is empty, does not end with a newline, ends with a blank line or holds a
            control character, two signers share a key, or the result would exceed the note limits.
    """
    if not isinstance(text, str) or not text.endswith("\n") or text == "\n":
        raise FormatError("note text must be non-empty and end with a newline")
    if text.endswith("\n\n"):
        raise FormatError("note text must not end with a blank line")
    if not signers:
        raise FormatError("a note needs at least one signer")
    msg = text.encode("utf-8")
    lines = []
    have: set[tuple[str, int]] = set()
    for s in signers:
        k = (s.name, s.key_hash)
        if k in have:
            raise FormatError(f"key {s.name}+{s.key_id} given twice")
        have.add(k)
        lines.append(Signature(s.name, s.key_hash, s.sign(msg)).line())
    out = text + "\n" + "".join(lines)
    parse_note(out)  # the result must be a note we accept
    return out
