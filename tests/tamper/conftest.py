"""Fixtures of the tamper tests: one populated ledger per module, exported (tests tamper with copies)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse, urlunparse

import pytest

from ledger.service import Ledger
from ledger.settings import Settings
from tests.tamper.helpers import ORIGIN, Built, export, populate


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of a module-wide ledger (its own PostgreSQL database when LVYUE_DATABASE_URL is set)."""
    base = os.environ.get("LVYUE_DATABASE_URL")
    data_dir = tmp_path_factory.mktemp("tamper") / "data"
    if not base:
        yield Settings(data_dir=data_dir, origin=ORIGIN)
        return
    import psycopg

    name = f"lvyue_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunparse(urlparse(base)._replace(path=f"/{name}"))
    yield Settings(data_dir=data_dir, origin=ORIGIN, database_url=url)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def built(module_settings: Settings) -> Iterator[Built]:
    """A populated ledger, exported (tests only read it; they tamper with copies of the lines)."""
    led = Ledger.open(module_settings)
    try:
        marks, keys = populate(led)
        yield Built(export(led), led.verifier_key, led.platform.log_seed, marks, keys)
    finally:
        led.close()
