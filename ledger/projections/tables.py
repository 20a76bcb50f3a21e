"""The read models' tables (prefix ``proj_``), in the ledger's own database, and how to reach them.

``proj_tracking`` holds the runner's position: the index of the next entry to apply. It is written in the same
transaction as the view updates of the entries before it, so an entry is applied exactly once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite

from ledger.settings import Settings
from ledger.store.write_lock import write_lock_for

__all__ = [
    "COMMITMENTS",
    "CONTRACTS",
    "COUNTERS",
    "INDICATORS",
    "META",
    "METADATA",
    "SUBJECT_DOCS",
    "SUBJECT_ENTRIES",
    "SUBJECT_HISTORY",
    "TRACKING",
    "engine_url",
    "make_engine",
    "upsert",
    "write_transaction",
]

METADATA = MetaData()

TRACKING = Table(
    "proj_tracking",
    METADATA,
    Column("name", Text, primary_key=True),
    Column("position", BigInteger, nullable=False),
)

META = Table(
    "proj_meta",
    METADATA,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

SUBJECT_HISTORY = Table(
    "proj_subject_history",
    METADATA,
    Column("subject", Text, primary_key=True),
    Column("as_of", Text, nullable=False),  # "" while the row waits for recomputation
    Column("version", BigInteger, nullable=False),  # bumped whenever a new entry makes the row stale
    Column("through", BigInteger, nullable=False),  # runner position the figures were computed at
    Column("kind", Text),
    Column("grade", Text, nullable=False),
    Column("score", Integer, nullable=False),
    Column("overdue_open", Integer, nullable=False),
    Column("commitments_broken", Integer, nullable=False),
    Column("arrears_amount", BigInteger, nullable=False),
    Index("proj_subject_history_grade", "grade", "score"),
    Index("proj_subject_history_as_of", "as_of"),
    Index("proj_subject_history_overdue", "overdue_open"),
    Index("proj_subject_history_broken", "commitments_broken"),
    Index("proj_subject_history_arrears", "arrears_amount"),
)

# The documents behind each SUBJECT_HISTORY row, apart from it: every new entry about a subject marks its narrow
# row stale, and a row holding kilobytes of JSON would be written out in full each time.
SUBJECT_DOCS = Table(
    "proj_subject_docs",
    METADATA,
    Column("subject", Text, primary_key=True),
    Column("history", Text, nullable=False),  # History.to_dict() as JSON
    Column("grading", Text, nullable=False),  # Grade.to_dict() as JSON
)

SUBJECT_ENTRIES = Table(
    "proj_subject_entries",
    METADATA,
    Column("subject", Text, primary_key=True),
    Column("idx", BigInteger, primary_key=True),
    Column("type", Text, nullable=False),
    Column("aggregate", Text, nullable=False),
)

CONTRACTS = Table(
    "proj_contracts",
    METADATA,
    Column("contract", Text, primary_key=True),
    Column("type", Text, nullable=False),
    Column("number", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("proposer", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("registered_at", BigInteger),
    Column("last_index", BigInteger, nullable=False),
    Column("view", Text, nullable=False),
    Index("proj_contracts_status", "status"),
    Index("proj_contracts_type", "type"),
)

COMMITMENTS = Table(
    "proj_commitments",
    METADATA,
    Column("commitment", Text, primary_key=True),
    Column("maker", Text, nullable=False),
    Column("authority", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("made_on", Text, nullable=False),
    Column("deadline", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_index", BigInteger, nullable=False),
    Column("view", Text, nullable=False),
    Index("proj_commitments_maker", "maker"),
    Index("proj_commitments_status", "status"),
)

COUNTERS = (
    "contracts_proposed",
    "contracts_registered",
    "contracts_terminated",
    "performances_reported",
    "performances_confirmed",
    "performances_disputed",
    "milestones_settled",
    "milestones_on_time",
    "subjects_registered",
    "subjects_committed",
    "commitments_made",
    "commitments_kept",
    "commitments_broken",
)

INDICATORS = Table(
    "proj_indicators",
    METADATA,
    Column("month", Text, primary_key=True),
    Column("contract_type", Text, primary_key=True),  # "" for rows about subjects and commitments
    *(Column(name, BigInteger, nullable=False, default=0) for name in COUNTERS),
)


def engine_url(settings: Settings) -> str:
    """The SQLAlchemy URL of the ledger's database: its SQLite file, or its PostgreSQL URL over psycopg 3."""
    if settings.database_url:
        url = settings.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
    return f"sqlite:///{settings.sqlite_path}"


def make_engine(settings: Settings) -> Engine:
    """An engine on the ledger's database for the read models. On SQLite, transactions begin explicitly
    (``BEGIN``) so a batch of view updates and its tracking write commit or roll back together; see
    ``write_transaction``.

    Everything written through it is derived from the log and rebuilt from it, so its commits do not wait for
    the disk (SQLite in WAL mode: ``synchronous = NORMAL``; PostgreSQL: ``synchronous_commit = off``). The
    database stays consistent; a power loss can only undo the read models' last commits, which the runner
    applies again from its tracked position. The log's own appends keep waiting for the disk."""
    url = engine_url(settings)
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA busy_timeout = 30000")
            if dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                dbapi_connection.execute("PRAGMA synchronous = NORMAL")

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            # a transaction that will write takes the write lock first: a deferred one that read first could
            # not upgrade while the ledger writes (SQLITE_BUSY without waiting)
            immediate = connection.get_execution_options().get("write", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    engine = create_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _connect_pg(dbapi_connection: Any, _record: Any) -> None:
        # a statement of its own, so that options the database URL gives are kept
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
        dbapi_connection.commit()

    return engine


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes: committed on leaving, rolled back on an exception. On SQLite it first queues
    behind the file's other writers (ledger.store.write_lock), then takes the write lock when it begins
    (``BEGIN IMMEDIATE``)."""
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    queue = write_lock_for(Path(database)).held() if database and database != ":memory:" else contextlib.nullcontext()
    with queue, engine.connect().execution_options(write=True) as conn, conn.begin():
        yield conn


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    update: Callable[[Any], Mapping[str, Any]] | None = None,
) -> None:
    """Insert ``rows``; on a key conflict, set ``update(excluded)`` (column -> expression) or, when ``update``
    is None, every non-key column to the new row's value."""
    if not rows:
        return
    conn.execute(_upsert_statement(conn.dialect.name, table, tuple(keys), update), list(rows))


_UPSERTS: dict[tuple[Any, ...], Any] = {}


def _upsert_statement(
    dialect_name: str, table: Table, keys: tuple[str, ...], update: Callable[[Any], Mapping[str, Any]] | None
) -> Any:
    """The upsert statement, built once per table, keys and ``update`` code (an ``update`` that closes over
    variables is built each time: its result may differ from call to call)."""
    code = getattr(update, "__code__", None)
    cacheable = update is None or (code is not None and getattr(update, "__closure__", None) is None)
    key = (dialect_name, table, keys, code)
    if cacheable and key in _UPSERTS:
        return _UPSERTS[key]
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    if update is None:
        sets = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    else:
        sets = dict(update(stmt.excluded))
    built = stmt.on_conflict_do_update(index_elements=list(keys), set_=sets)
    if cacheable:
        _UPSERTS[key] = built
    return built
