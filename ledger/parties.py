"""In-process parties: a subject's key file and a ledger to submit to, for the demo, benchmarks and tests.

Over the network the same statements are built by ``ledger.client`` and sent by ``lvyue`` commands; here they go
straight to ``Ledger.submit``. The registration desk's actions use the platform's authority key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger.client import KeyFile, sign
from ledger.service import Ledger, Receipt
from verifier.identity import subject_aggregate
from verifier.statement import b64encode


@dataclass
class Party:
    """A subject acting on a ledger with its own key."""

    ledger: Ledger
    key: KeyFile

    @property
    def subject(self) -> str:
        """The party's subject id."""
        return self.key.subject

    def statement(
        self,
        type: str,
        aggregate: str,
        body: Mapping[str, Any],
        *,
        cosigners: Iterable[Party] = (),
        version: int | None = None,
        time: str | None = None,
    ) -> dict[str, Any]:
        """A signed statement on ``aggregate`` at its next version (or ``version``), not yet submitted."""
        if version is None:
            version = self.ledger.version(aggregate) + 1
        return sign(
            self.key,
            self.ledger.origin,
            type,
            aggregate,
            version,
            body,
            time=time,
            cosigners=[c.key for c in cosigners],
        )

    def submit(
        self,
        type: str,
        aggregate: str,
        body: Mapping[str, Any],
        *,
        cosigners: Iterable[Party] = (),
        time: str | None = None,
    ) -> Receipt:
        """Sign and submit a statement; return its receipt."""
        return self.ledger.submit(self.statement(type, aggregate, body, cosigners=cosigners, time=time))


def register(ledger: Ledger, subject: str, kind: str, name: str, key: KeyFile | None = None) -> Party:
    """Register ``subject`` at the registration desk and bind a key to it (generated unless given)."""
    key = key or KeyFile.generate(subject)
    aggregate = subject_aggregate(subject)
    ledger.submit_as_platform(
        "authority", "subject.registered", aggregate, {"subject": subject, "kind": kind, "name": name}
    )
    bind_key(ledger, subject, key)
    return Party(ledger, key)


def bind_key(ledger: Ledger, subject: str, key: KeyFile) -> Receipt:
    """Bind ``key`` to ``subject`` (the desk's ``key.bound``)."""
    body = {
        "subject": subject,
        "key_id": key.key_id,
        "public_key": b64encode(key.public_key),
        "algorithm": "ed25519",
    }
    return ledger.submit_as_platform("authority", "key.bound", subject_aggregate(subject), body)


def revoke_key(ledger: Ledger, subject: str, key_id: str, reason: str) -> Receipt:
    """Revoke one of ``subject``'s keys (the desk's ``key.revoked``)."""
    body = {"subject": subject, "key_id": key_id, "reason": reason}
    return ledger.submit_as_platform("authority", "key.revoked", subject_aggregate(subject), body)


def operator(ledger: Ledger) -> Party:
    """The platform operator as a party (its key is the platform's)."""
    return Party(ledger, ledger.platform.operator)
