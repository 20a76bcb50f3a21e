"""Server-sent events of a subscription: ``id: <index>``, ``event: entry``, ``data: <event JSON>``.

The stream starts at the entry after ``Last-Event-ID`` when the client resumes, else at the subscription's
position; it polls the log for new entries and sends a comment line as keep-alive while nothing happens.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from ledger.push.subscriptions import Event, events_after
from ledger.service import Ledger

__all__ = ["format_event", "parse_events", "stream"]


def format_event(event: Event) -> bytes:
    """One server-sent event."""
    return b"id: %d\nevent: entry\ndata: %s\n\n" % (event.index, event.data())


def stream(
    ledger: Ledger,
    subject: str,
    position: int,
    *,
    poll: float = 0.5,
    keepalive: float = 15.0,
    stop: threading.Event | None = None,
    max_events: int | None = None,
) -> Iterator[bytes]:
    """Yield server-sent events for ``subject`` from entry ``position`` on, forever (until ``stop`` is set or
    ``max_events`` were sent)."""
    stop = stop or threading.Event()
    sent = 0
    quiet = 0.0
    yield b": lvyue events\n\n"
    while not stop.is_set():
        events, position = events_after(ledger, subject, position)
        for event in events:
            yield format_event(event)
            sent += 1
            if max_events is not None and sent >= max_events:
                return
        if events:
            quiet = 0.0
            continue
        time.sleep(poll)
        quiet += poll
        if quiet >= keepalive:
            quiet = 0.0
            yield b": keep-alive\n\n"


def parse_events(lines: Iterator[str]) -> Iterator[tuple[int, str]]:
    """(id, data) of each event in a text/event-stream given line by line (comments skipped)."""
    ident: int | None = None
    data: list[str] = []
    for line in lines:
        if line == "":
            if ident is not None and data:
                yield ident, "\n".join(data)
            ident, data = None, []
        elif line.startswith(":"):
            continue
        elif line.startswith("id:"):
            ident = int(line[3:].strip())
        elif line.startswith("data:"):
            data.append(line[5:].strip())
