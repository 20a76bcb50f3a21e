"""Bearer tokens of the platform's roles (registration authority, operator, auditor), kept only as SHA-256.

Tokens come from the environment variable LVYUE_TOKENS (``authority=T1,operator=T2,auditor=T3`` or a JSON object
of the same) or from ``<data dir>/api-tokens.json`` (``{role: sha256 hex}``), which ``issue_tokens`` creates with
random tokens the first time and whose plain tokens are shown once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Role = Literal["authority", "operator", "auditor"]
ROLES: tuple[Role, ...] = ("authority", "operator", "auditor")
TOKENS_FILE = "api-tokens.json"


def token_hash(token: str) -> str:
    """Hex SHA-256 of a token's UTF-8 bytes."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Tokens:
    """The hashed tokens of each role."""

    hashes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_plain(cls, plain: Mapping[str, str]) -> Tokens:
        """Tokens from plain ``{role: token}`` (hashed at once).

        Raises:
            ValueError: an unknown role or an empty token.
        """
        for role, token in plain.items():
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
            if not token:
                raise ValueError(f"empty token for {role}")
        return cls({role: token_hash(token) for role, token in plain.items()})

    def role_of(self, token: str) -> Role | None:
        """The role whose token this is, or None."""
        digest = token_hash(token)
        found: Role | None = None
        for role in ROLES:
            expected = self.hashes.get(role)
            if expected is not None and hmac.compare_digest(expected, digest):
                found = role
        return found


def parse_env_tokens(value: str) -> dict[str, str]:
    """Parse LVYUE_TOKENS: a JSON object ``{role: token}`` or ``role=token`` pairs separated by commas.

    Raises:
        ValueError: the value is neither.
    """
    value = value.strip()
    if value.startswith("{"):
        obj = json.loads(value)
        if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
            raise ValueError("LVYUE_TOKENS JSON must map roles to token strings")
        return {str(k): str(v) for k, v in obj.items()}
    out: dict[str, str] = {}
    for part in value.split(","):
        role, sep, token = part.strip().partition("=")
        if not sep:
            raise ValueError("LVYUE_TOKENS must be role=token pairs separated by commas")
        out[role.strip()] = token.strip()
    return out


def issue_tokens(data_dir: Path, env: Mapping[str, str] | None = None) -> tuple[Tokens, dict[str, str]]:
    """The server's tokens and the plain tokens newly created (to show once; empty when none were created).

    LVYUE_TOKENS in ``env`` (default: the process environment) wins; otherwise the hashed file in ``data_dir``
    is read, or created with a fresh random token per role (mode 0600).

    Raises:
        ValueError: LVYUE_TOKENS or the tokens file is not valid.
        OSError: the tokens file cannot be read or written.
    """
    env = os.environ if env is None else env
    if env.get("LVYUE_TOKENS"):
        return Tokens.from_plain(parse_env_tokens(env["LVYUE_TOKENS"])), {}
    path = data_dir / TOKENS_FILE
    if path.exists():
        obj = json.loads(path.read_text())
        if not isinstance(obj, dict) or not all(k in ROLES and isinstance(v, str) for k, v in obj.items()):
            raise ValueError(f"{path} must map roles to SHA-256 hex strings")
        return Tokens(dict(obj)), {}
    plain: dict[str, str] = {role: secrets.token_urlsafe(32) for role in ROLES}
    tokens = Tokens.from_plain(plain)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(dict(tokens.hashes), f, indent=2)
    return tokens, plain
