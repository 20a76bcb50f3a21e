"""Webhook delivery: every event of a subscription POSTed to its URL in log order, at least once, retried with
exponential backoff, resumed from the stored position after a restart.

The body is the event's canonical JSON. Header ``Lvyue-Signature: ed25519=<base64>`` carries the log key's
Ed25519 signature over ``"lvyue/push/v1\\n" || body``; ``Lvyue-Event-Index`` the entry index. A receiver checks
the signature with the log's public key (``verify_push``) and ignores an index it has seen (at least once).
The position moves past an event only after the receiver answered 2xx, so after a crash the last event may come
again, never be lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from nacl.signing import SigningKey

from ledger.push.subscriptions import Subscription, events_after, save_progress, subscriptions
from ledger.service import Ledger
from verifier.errors import FormatError, SignatureError
from verifier.statement import b64decode, b64encode, verify_signature

__all__ = ["PUSH_DOMAIN", "Dispatcher", "sign_push", "verify_push"]

PUSH_DOMAIN = b"lvyue/push/v1\n"
SIGNATURE_HEADER = "Lvyue-Signature"
INDEX_HEADER = "Lvyue-Event-Index"


def sign_push(seed: bytes, body: bytes) -> str:
    """The signature header value for ``body`` signed with the log key's seed."""
    return "ed25519=" + b64encode(SigningKey(seed).sign(PUSH_DOMAIN + body).signature)


def verify_push(body: bytes, header: str, log_public_key: bytes) -> None:
    """Check a pushed body's signature header against the log's public key.

    Raises:
        SignatureError: the header is malformed or the signature does not verify.
    """
    if not header.startswith("ed25519="):
        raise SignatureError("the push signature header must start with ed25519=")
    try:
        sig = b64decode(header[len("ed25519=") :], what="push signature", size=64)
    except FormatError as e:
        raise SignatureError(str(e)) from None
    verify_signature(PUSH_DOMAIN + body, sig, log_public_key, signer="log")


class Dispatcher:
    """Delivers the events of every webhook subscription; ``run_once`` does one round, ``start`` a thread."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        client: httpx.Client | None = None,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.ledger = ledger
        self.client = client or httpx.Client(timeout=10.0)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.clock = clock or (lambda: datetime.now(UTC))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failures in a row: base * 2^(attempts-1), at most max_delay."""
        return float(min(self.base_delay * 2 ** max(attempts - 1, 0), self.max_delay))

    def run_once(self) -> int:
        """Deliver what is due on every webhook subscription; return the number of events delivered."""
        delivered = 0
        for sub in subscriptions(self.ledger):
            if sub.url is not None:
                delivered += self._deliver(sub)
        return delivered

    def _deliver(self, sub: Subscription) -> int:
        now = self.clock()
        if sub.next_attempt and datetime.fromisoformat(sub.next_attempt) > now:
            return 0
        assert sub.url is not None
        events, after = events_after(self.ledger, sub.subject, sub.position)
        position = sub.position
        sent = 0
        for event in events:
            body = event.data()
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign_push(self.ledger.platform.log_seed, body),
                INDEX_HEADER: str(event.index),
            }
            try:
                response = self.client.post(sub.url, content=body, headers=headers)
                ok = 200 <= response.status_code < 300
                error = None if ok else f"HTTP {response.status_code}"
            except httpx.HTTPError as e:
                ok, error = False, f"{type(e).__name__}: {e}"
            if not ok:
                attempts = sub.attempts + 1
                retry = (now + timedelta(seconds=self.backoff(attempts))).isoformat()
                save_progress(
                    self.ledger, sub.id, position=position, attempts=attempts, next_attempt=retry, error=error
                )
                return sent
            position = event.index + 1
            sent += 1
            save_progress(self.ledger, sub.id, position=position)
        if after != position or sub.attempts:
            save_progress(self.ledger, sub.id, position=after)
        return sent

    def start(self, interval: float = 1.0) -> None:
        """Deliver in a background thread every ``interval`` seconds until ``stop``."""

        def loop() -> None:
            while not self._stop.is_set():
                self.run_once()
                self._stop.wait(interval)

        self._thread = threading.Thread(target=loop, name="lvyue-push", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread (after its current round)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
