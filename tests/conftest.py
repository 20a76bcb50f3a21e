"""Fixtures shared by every test: a fresh store per test, on SQLite by default or on PostgreSQL when
LVYUE_DATABASE_URL names a server (each test then gets a database of its own, dropped afterwards)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

from ledger.service import Ledger
from ledger.settings import Settings


def _admin(url: str) -> object:
    import psycopg

    return psycopg.connect(url, autocommit=True)


@pytest.fixture
def database_url() -> Iterator[str | None]:
    """None on SQLite; on PostgreSQL the URL of a new, empty database that is dropped after the test."""
    base = os.environ.get("LVYUE_DATABASE_URL")
    if not base:
        yield None
        return
    name = f"lvyue_t_{uuid.uuid4().hex[:12]}"
    with _admin(base) as conn:  # type: ignore[attr-defined]
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlparse(base)
    yield urlunparse(parts._replace(path=f"/{name}"))
    with _admin(base) as conn:  # type: ignore[attr-defined]
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    """Settings for a fresh ledger in ``tmp_path`` (and a fresh PostgreSQL database when configured)."""
    return Settings(data_dir=tmp_path / "data", database_url=database_url, origin="test.lvyue.example/log")


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    """An open ledger with only its genesis entry."""
    led = Ledger.open(settings)
    yield led
    led.close()
