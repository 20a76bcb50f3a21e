"""The ledger's recorders still honour the eventsourcing library's recorder contract.

The library's own ApplicationRecorderTestCase runs against each ledger recorder class: what the ledger adds
(``append`` and its tables) must not change how plain stored events are inserted, selected and notified.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest
from eventsourcing.tests.persistence import ApplicationRecorderTestCase

from ledger.settings import Settings
from ledger.store import open_recorder
from ledger.store.postgres import LedgerPostgresRecorder
from ledger.store.sqlite import LedgerSQLiteRecorder

BASE_URL = os.environ.get("LVYUE_DATABASE_URL")


class TestLedgerSQLiteRecorderContract(ApplicationRecorderTestCase[LedgerSQLiteRecorder]):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def create_recorder(self) -> LedgerSQLiteRecorder:
        recorder = open_recorder(Settings(data_dir=Path(self.tmp.name) / str(uuid.uuid4())))
        assert isinstance(recorder, LedgerSQLiteRecorder)
        return recorder


@pytest.mark.skipif(not BASE_URL, reason="PostgreSQL contract runs when LVYUE_DATABASE_URL names a server")
class TestLedgerPostgresRecorderContract(ApplicationRecorderTestCase[LedgerPostgresRecorder]):
    def setUp(self) -> None:
        assert BASE_URL
        self.name = f"lvyue_c_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(BASE_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.url = urlunparse(urlparse(BASE_URL)._replace(path=f"/{self.name}"))
        self.tmp = tempfile.TemporaryDirectory()
        self.recorders: list[LedgerPostgresRecorder] = []

    def tearDown(self) -> None:
        assert BASE_URL
        for recorder in self.recorders:
            recorder.datastore.close()
        with psycopg.connect(BASE_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.tmp.cleanup()

    def create_recorder(self) -> LedgerPostgresRecorder:
        recorder = open_recorder(Settings(data_dir=Path(self.tmp.name), database_url=self.url))
        assert isinstance(recorder, LedgerPostgresRecorder)
        self.recorders.append(recorder)
        return recorder
