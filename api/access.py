"""The access log: who with a role token read or changed what (JSON Lines, ``<data dir>/access-log.jsonl``)."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson


class AccessLog:
    """Appends one JSON line per logged request; ``path`` None keeps the lines in memory only. The file is
    kept open, in append mode, and each line is written through to it as it is recorded; when the path no
    longer names the open file (moved away by log rotation, or removed), a new file is opened there."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.recent: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None

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
        data = orjson.dumps(line) + b"\n"
        with self._lock:
            self.recent.append(line)
            del self.recent[:-1000]
            if self.path is not None:
                if self._file is not None and not self._still_there(self._file):
                    self._file.close()
                    self._file = None
                if self._file is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._file = self.path.open("ab", buffering=0)
                self._file.write(data)

    def _still_there(self, file: BinaryIO) -> bool:
        assert self.path is not None
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return False
        kept = os.fstat(file.fileno())
        return (found.st_dev, found.st_ino) == (kept.st_dev, kept.st_ino)

    def close(self) -> None:
        """Close the file (a later ``record`` opens it again)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
