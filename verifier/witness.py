"""A witness (全节点见证): check that the log's latest checkpoint extends the last one it cosigned and that every
entry replays, then cosign it (C2SP tlog-cosignature) and return the cosignature to the log.

The checking is the monitor's (``verifier.monitor.run_monitor``): a witness never cosigns a checkpoint it has not
verified against its own state, so two different histories behind checkpoints it signed cannot both exist.
A witness key file is JSON ``{"name", "seed", "verifier_key"}`` (base64 seed), kept by the witness alone.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from verifier.checkpoint import cosign, witness_verifier_key_string
from verifier.errors import FormatError
from verifier.monitor import CHECKPOINT_FILE, FetchError, MonitorResult, run_monitor
from verifier.note import b64decode_canonical
from verifier.statement import public_key_of

__all__ = ["WitnessKey", "WitnessResult", "witness_once"]


@dataclass(frozen=True)
class WitnessKey:
    """A witness's name and Ed25519 seed."""

    name: str
    seed: bytes

    @property
    def verifier_key(self) -> str:
        """The witness's cosignature/v1 verifier key string, for the log's and auditors' witness lists."""
        return witness_verifier_key_string(self.name, public_key_of(self.seed))

    @classmethod
    def generate(cls, name: str) -> WitnessKey:
        """A new random witness key."""
        return cls(name, secrets.token_bytes(32))

    def save(self, path: Path) -> None:
        """Write the key file with mode 0600."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(
                {"name": self.name, "seed": base64.b64encode(self.seed).decode(), "verifier_key": self.verifier_key},
                f,
                indent=2,
            )

    @classmethod
    def load(cls, path: Path) -> WitnessKey:
        """Read a key file.

        Raises:
            FormatError: not a witness key file.
            OSError: it cannot be read.
        """
        try:
            obj: Any = json.loads(path.read_text())
            return cls(str(obj["name"]), b64decode_canonical(str(obj["seed"]), "seed"))
        except (ValueError, KeyError, TypeError) as e:
            raise FormatError(f"{path} is not a witness key file: {e}") from None


@dataclass(frozen=True)
class WitnessResult:
    """What the witness checked and the checkpoint as the log now stores it."""

    checked: MonitorResult
    note: str


def witness_once(client: httpx.Client, state_dir: Path, log_verifier_key: str, key: WitnessKey) -> WitnessResult:
    """Check the log's latest checkpoint (as the monitor does), cosign it and send the cosignature to the log.

    Raises:
        VerificationError: the checkpoint, the consistency proof or an entry fails: nothing is cosigned.
        FetchError: a request fails or the log refuses the cosignature.
    """
    checked = run_monitor(client, state_dir, log_verifier_key)
    note = (state_dir / CHECKPOINT_FILE).read_text(encoding="utf-8")
    cosigned = cosign(note, key.name, key.seed, int(time.time()))
    try:
        response = client.post("/log/cosignatures", json={"note": cosigned})
    except httpx.HTTPError as e:
        raise FetchError(f"cannot send the cosignature: {e}") from e
    if response.status_code != 200:
        raise FetchError(f"the log refused the cosignature: HTTP {response.status_code} {response.text[:300]}")
    return WitnessResult(checked, str(response.json()["note"]))
