"""Settings, read once from the environment.

LVYUE_DATABASE_URL   postgresql://user@host:port/db for PostgreSQL; unset: SQLite in LVYUE_DATA_DIR
LVYUE_DATA_DIR       where the SQLite store and the platform's key files live (default ./lvyue-data)
LVYUE_ORIGIN         the log's origin line (default credit.example.gov.cn/lvyue)
LVYUE_CHECKPOINT_INTERVAL  seconds between periodic checkpoints while serving (default 10)
LVYUE_CHECKPOINT_FRESHNESS  seconds GET /log/checkpoint may serve the checkpoint a worker issued last before
                     issuing another for a grown tree (default 1; 0: a new one on every request that finds the
                     tree grown, a write each under load)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ORIGIN = "credit.example.gov.cn/lvyue"


@dataclass(frozen=True)
class Settings:
    """Where the ledger keeps its data and what it calls itself."""

    data_dir: Path = field(default_factory=lambda: Path("lvyue-data"))
    database_url: str | None = None
    origin: str = DEFAULT_ORIGIN
    checkpoint_interval: float = 10.0
    checkpoint_freshness: float = 0.0
    witnesses: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from LVYUE_* environment variables; keyword arguments override them."""
        values: dict[str, object] = {
            "data_dir": Path(os.environ.get("LVYUE_DATA_DIR", "lvyue-data")),
            "database_url": os.environ.get("LVYUE_DATABASE_URL") or None,
            "origin": os.environ.get("LVYUE_ORIGIN", DEFAULT_ORIGIN),
            "checkpoint_interval": float(os.environ.get("LVYUE_CHECKPOINT_INTERVAL", "10")),
            "checkpoint_freshness": float(os.environ.get("LVYUE_CHECKPOINT_FRESHNESS", "1")),
            "witnesses": tuple(w.strip() for w in os.environ.get("LVYUE_WITNESSES", "").split(",") if w.strip()),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def backend(self) -> str:
        """``postgres`` or ``sqlite``."""
        return "postgres" if self.database_url else "sqlite"

    @property
    def sqlite_path(self) -> Path:
        """The SQLite database file (when no database URL is set)."""
        return self.data_dir / "ledger.sqlite3"
