"""The access log: who with a role token read or changed what (JSON Lines, ``<data dir>/access-log.jsonl``)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson


class AccessLog:
    """Appends one JSON line per logged request; ``path`` None keeps the lines in memory only."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.recent: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(self, role: str, method: str, target: str, client: str | None) -> None:
        """Log one request by ``role`` (the line also keeps the time and the client address).

        Raises:
            OSError: the log file cannot be written.
        """
        line = {
            "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "role": role,
            "method": method,
            "target": target,
            "client": client,
        }
        with self._lock:
            self.recent.append(line)
            del self.recent[:-1000]
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("ab") as f:
                    f.write(orjson.dumps(line) + b"\n")
