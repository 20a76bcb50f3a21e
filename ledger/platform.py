"""The platform's own keys: the log key (signs checkpoints, receipts and the genesis statement), and the keys of
the two platform subjects named in genesis, the operator (信用中心: clock entries, judgments, decisions) and the
registration authority (身份核验窗口: subjects and keys). Kept in ``<data dir>/platform.json`` with mode 0600.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ledger.client import KeyFile
from verifier.identity import make_credit_code
from verifier.note import Signer, verifier_key_string
from verifier.statement import b64decode, b64encode, public_key_of

OPERATOR_CODE = make_credit_code("12120113MB0000010")
AUTHORITY_CODE = make_credit_code("11120113MB0000029")
OPERATOR_NAME = "北辰区公共信用信息中心"
AUTHORITY_NAME = "北辰区政务服务办公室身份核验窗口"


@dataclass(frozen=True)
class PlatformKeys:
    """The log key seed, the operator's and the authority's key files, and the pseudonym key for persons."""

    origin: str
    log_seed: bytes
    operator: KeyFile
    authority: KeyFile
    pseudonym_key: bytes

    @property
    def log_public_key(self) -> bytes:
        """The log key's 32-byte Ed25519 public key."""
        return public_key_of(self.log_seed)

    @property
    def verifier_key(self) -> str:
        """The log's verifier key in signed-note form ``origin+hash+base64``."""
        return verifier_key_string(self.origin, self.log_public_key)

    def signer(self) -> Signer:
        """A signed-note signer with the log key."""
        return Signer(self.origin, self.log_seed)

    @classmethod
    def load_or_create(cls, data_dir: Path, origin: str) -> PlatformKeys:
        """Read ``platform.json`` from ``data_dir``, creating it with fresh keys the first time."""
        path = data_dir / "platform.json"
        if path.exists():
            obj = json.loads(path.read_text())
            return cls(
                origin=obj["origin"],
                log_seed=b64decode(obj["log_seed"], what="log_seed", size=32),
                operator=KeyFile.from_json(obj["operator"]),
                authority=KeyFile.from_json(obj["authority"]),
                pseudonym_key=b64decode(obj["pseudonym_key"], what="pseudonym_key", size=32),
            )
        keys = cls(
            origin=origin,
            log_seed=secrets.token_bytes(32),
            operator=KeyFile.generate(OPERATOR_CODE),
            authority=KeyFile.generate(AUTHORITY_CODE),
            pseudonym_key=secrets.token_bytes(32),
        )
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(
                {
                    "origin": origin,
                    "log_seed": b64encode(keys.log_seed),
                    "operator": keys.operator.to_json(),
                    "authority": keys.authority.to_json(),
                    "pseudonym_key": b64encode(keys.pseudonym_key),
                },
                f,
                indent=2,
            )
        return keys
