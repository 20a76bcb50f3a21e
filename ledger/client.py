"""The party's side: key files, and building and signing statements with them.

A party's private key never leaves its key file: the command line, the demo and the tests all sign here and send
the server only signed statements. A key file is JSON ``{"subject", "key_id", "public_key", "seed"}`` (base64),
written with mode 0600.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from verifier.errors import FormatError
from verifier.identity import key_id
from verifier.statement import b64decode, b64encode, make_statement, public_key_of, sign_statement


@dataclass(frozen=True)
class KeyFile:
    """A subject's Ed25519 signing key."""

    subject: str
    seed: bytes

    @classmethod
    def generate(cls, subject: str) -> KeyFile:
        """A new random key for ``subject``."""
        return cls(subject, secrets.token_bytes(32))

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return public_key_of(self.seed)

    @property
    def key_id(self) -> str:
        """The key id (``ed25519:`` + 16 hex digits)."""
        return key_id(self.public_key)

    def to_json(self) -> dict[str, str]:
        """The key file's JSON object."""
        return {
            "subject": self.subject,
            "key_id": self.key_id,
            "public_key": b64encode(self.public_key),
            "seed": b64encode(self.seed),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> KeyFile:
        """Read a key file object.

        Raises:
            FormatError: a member is missing or the key id does not match the key.
        """
        try:
            key = cls(str(obj["subject"]), b64decode(obj["seed"], what="seed", size=32))
        except KeyError as e:
            raise FormatError(f"key file lacks {e}") from None
        if "key_id" in obj and obj["key_id"] != key.key_id:
            raise FormatError("key file's key_id does not match its key")
        return key

    def save(self, path: Path) -> None:
        """Write the key file with mode 0600."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.to_json(), f, indent=2)

    @classmethod
    def load(cls, path: Path) -> KeyFile:
        """Read a key file.

        Raises:
            FormatError: the file is not a key file.
            OSError: the file cannot be read.
        """
        try:
            return cls.from_json(json.loads(path.read_text()))
        except json.JSONDecodeError as e:
            raise FormatError(f"{path} is not JSON: {e}") from None


def now() -> str:
    """The current UTC time as a statement time (seconds, ``Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_aggregate_id() -> str:
    """A fresh random aggregate id for a new contract or commitment."""
    return str(uuid.uuid4())


def sign(
    key: KeyFile,
    origin: str,
    type: str,
    aggregate: str,
    version: int,
    body: Mapping[str, Any],
    *,
    time: str | None = None,
    cosigners: Iterable[KeyFile] = (),
) -> dict[str, Any]:
    """Build a statement made by ``key``'s subject and sign it; joint statements add ``cosigners``' signatures.

    Returns the signed statement ``{"statement", "signatures"}`` ready to submit.
    """
    statement = make_statement(type, origin, key.subject, key.key_id, aggregate, version, time or now(), body)
    signed: dict[str, Any] = {
        "statement": statement,
        "signatures": [sign_statement(statement, key.subject, key.seed)],
    }
    for other in cosigners:
        cosign(signed, other)
    return signed


def cosign(signed: dict[str, Any], key: KeyFile) -> dict[str, Any]:
    """Add ``key``'s signature to a signed statement (in place) and return it."""
    signed["signatures"].append(sign_statement(signed["statement"], key.subject, key.seed))
    return signed
