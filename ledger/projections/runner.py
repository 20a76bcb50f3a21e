"""The projection runner: applies the log's new entries to the read models, exactly once, and answers reads.

``Projections.run_once(ledger)`` reads the entries after its tracked position a batch at a time
(``Ledger.entries(start, stop)``) and, for each batch, writes the view updates and the new position in one
transaction: a crash anywhere in it rolls both back, so nothing is applied twice or skipped and the next run
resumes where the last commit left off. The position is advanced with a compare-and-set, so two runners on the
same database never apply a batch twice either.

Subject histories are recomputed by subject: a batch marks every subject its entries concern (``links`` keys)
stale in the same transaction; after the batches, each stale subject's figures are recomputed from its own
entries with ``verifier.history.compute_history`` and graded with ``verifier.grading.grade`` — the rules are
written once, in the verifier — and stored as JSON beside the indexed columns queries need.
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import orjson
from sqlalchemy import Connection, Engine, and_, bindparam, func, inspect, select, update

from ledger.errors import LedgerError, NotFound
from ledger.projections.grading_rules import load_grading_rules
from ledger.projections.tables import (
    COMMITMENTS,
    CONTRACTS,
    COUNTERS,
    INDICATORS,
    META,
    METADATA,
    SUBJECT_DOCS,
    SUBJECT_ENTRIES,
    SUBJECT_HISTORY,
    TRACKING,
    make_engine,
    upsert,
    write_transaction,
)
from ledger.settings import Settings
from verifier.entry import Entry, parse_entry
from verifier.grading import Factor, Grade, GradingRules, grade
from verifier.history import Figure, History, OverdueMilestone, compute_history
from verifier.rules import CommitmentState, ContractState, Facts, apply
from verifier.statement import CONTRACT_STATEMENT_TYPES

if TYPE_CHECKING:
    from ledger.projections.poller import Poller
    from ledger.service import Ledger

__all__ = ["BATCH", "ProjectionError", "Projections", "history_from_dict", "today_china", "today_utc"]

BATCH = 500
RUNNER = "main"
STORE_CHUNK = 64  # recomputed histories stored per write transaction

COMMITMENT_TYPES = frozenset({"commitment.made", "commitment.kept", "commitment.broken", "commitment.overdue"})
Grouping = Literal["month", "type", "month_type"]


class ProjectionError(LedgerError):
    """The projections could not apply an entry, or another runner moved the position under this one."""

    default_code = "projection_error"


def today_utc() -> str:
    """Today's date in UTC, ``YYYY-MM-DD``."""
    return datetime.datetime.now(datetime.UTC).date().isoformat()


def today_china() -> str:
    """Today's date in China Standard Time (UTC+8), ``YYYY-MM-DD``: the date statements and rules speak of,
    and the default clock of the projections."""
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=8)).date().isoformat()


_FIELDS: dict[type, tuple[str, ...]] = {}  # the field names of each dataclass _plain has met


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


_LEAVES = frozenset({str, int, bool, float, type(None)})


def _plain(value: Any) -> Any:
    """A JSON-ready copy: dataclass instances and mappings to dicts, tuples and frozensets to lists."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is dict:
        return {str(k): _plain(v) for k, v in value.items()}
    if kind in _FIELDS or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        names = _FIELDS.get(kind)
        if names is None:
            names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(value))
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class _Computed:
    """A subject's worked-out history, with the position and row version it was worked out from."""

    subject: str
    as_of: str
    position: int
    version: int | None
    history: History
    graded: Grade


_RECORD = (  # built once: the statement's construction cost more than the query
    select(
        SUBJECT_HISTORY.c.as_of,
        SUBJECT_HISTORY.c.through,
        SUBJECT_HISTORY.c.kind,
        SUBJECT_HISTORY.c.grade,
        SUBJECT_HISTORY.c.score,
        SUBJECT_DOCS.c.history,
        SUBJECT_DOCS.c.grading,
    )
    .join(SUBJECT_DOCS, SUBJECT_DOCS.c.subject == SUBJECT_HISTORY.c.subject)
    .where(SUBJECT_HISTORY.c.subject == bindparam("subject"))
)

_STORE_HISTORY = (
    update(SUBJECT_HISTORY)
    .where(and_(SUBJECT_HISTORY.c.subject == bindparam("s"), SUBJECT_HISTORY.c.version == bindparam("v")))
    .values(
        {
            name: bindparam("new_" + name)
            for name in (
                "as_of",
                "through",
                "kind",
                "grade",
                "score",
                "overdue_open",
                "commitments_broken",
                "arrears_amount",
            )
        }
    )
)


def history_from_dict(d: Mapping[str, Any]) -> History:
    """Rebuild a History from ``History.to_dict()`` output (the stored JSON).

    Raises:
        KeyError, TypeError: ``d`` is not the output of ``History.to_dict()``.
    """

    def overdue(items: Iterable[Mapping[str, Any]]) -> tuple[OverdueMilestone, ...]:
        return tuple(
            OverdueMilestone(
                o["contract"], o["milestone"], o["kind"], o["amount"], o["due"], o["days"], tuple(o["entries"])
            )
            for o in items
        )

    return History(
        subject=d["subject"],
        as_of=d["as_of"],
        kind=d["kind"],
        entries=tuple(d["entries"]),
        figures={k: Figure(f["value"], tuple(f["entries"])) for k, f in d["figures"].items()},
        overdue=overdue(d["overdue"]),
        arrears=overdue(d["arrears"]),
    )


@dataclass
class _Aggregate:
    """A contract's or commitment's rule state and the entries that brought it there."""

    state: Any
    entries: list[int]
    created_at: int
    registered_at: int | None = None
    milestone_entries: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class _Batch:
    """What one transaction writes."""

    subject_rows: list[dict[str, Any]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    contracts: dict[str, _Aggregate] = field(default_factory=dict)
    commitments: dict[str, _Aggregate] = field(default_factory=dict)
    counters: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    makers: set[str] = field(default_factory=set)

    def count(self, month: str, contract_type: str, name: str) -> None:
        row = self.counters.setdefault((month, contract_type), dict.fromkeys(COUNTERS, 0))
        row[name] += 1


def _signers(entry: Entry) -> frozenset[str]:
    return frozenset(str(s["signer"]) for s in entry.signatures)


def _contract_step(agg: _Aggregate | None, entry: Entry, facts: Facts) -> tuple[ContractState | None, _Aggregate]:
    """Apply a contract statement; return the state before and the updated aggregate."""
    st = entry.statement
    old: ContractState | None = agg.state if agg is not None else None
    new = apply(old, st, _signers(entry), facts).state
    assert isinstance(new, ContractState)
    if agg is None:
        agg = _Aggregate(new, [], entry.index)
    agg.state = new
    agg.entries.append(entry.index)
    stype = st["type"]
    body = st["body"]
    if stype in ("contract.proposed", "contract.amended"):
        for mid in new.milestones:
            agg.milestone_entries.setdefault(mid, []).append(entry.index)
    elif isinstance(body.get("milestone"), str):
        agg.milestone_entries.setdefault(body["milestone"], []).append(entry.index)
    if old is not None and old.status != "terminated" and new.status == "terminated":
        for mid, m in old.milestones.items():
            if not m.settled:
                agg.milestone_entries.setdefault(mid, []).append(entry.index)
    if old is not None and old.status == "proposed" and new.status == "registered":
        agg.registered_at = entry.index
    return old, agg


def _commitment_step(agg: _Aggregate | None, entry: Entry, facts: Facts) -> tuple[Any, _Aggregate]:
    old = agg.state if agg is not None else None
    new = apply(old, entry.statement, _signers(entry), facts).state
    assert isinstance(new, CommitmentState)
    if agg is None:
        agg = _Aggregate(new, [], entry.index)
    agg.state = new
    agg.entries.append(entry.index)
    return old, agg


def contract_view(contract_id: str, agg: _Aggregate) -> dict[str, Any]:
    """The contract view: terms, parties, status, every milestone's state and the entries behind it."""
    s: ContractState = agg.state
    milestones = []
    for mid, m in s.milestones.items():
        item = _plain(dataclasses.asdict(m))
        item["on_time"] = m.on_time
        item["entries"] = agg.milestone_entries.get(mid, [])
        milestones.append(item)
    return {
        "contract": contract_id,
        "status": "completed" if s.completed else s.status,
        "type": s.terms["type"],
        "terms": _plain(s.terms),
        "terms_digest": s.terms_digest,
        "proposer": s.proposer,
        "parties": _plain(s.terms["parties"]),
        "consented": sorted(s.consented),
        "milestones": milestones,
        "judgments": [_plain(dataclasses.asdict(j)) for j in s.judgments],
        "created_at": agg.created_at,
        "registered_at": agg.registered_at,
        "entries": list(agg.entries),
        "amended_away": {k: v for k, v in agg.milestone_entries.items() if k not in s.milestones},
    }


def commitment_view(commitment_id: str, agg: _Aggregate) -> dict[str, Any]:
    """The commitment view: its terms, status and the entries behind it."""
    view: dict[str, Any] = _plain(agg.state)
    view.update({"commitment": commitment_id, "created_at": agg.created_at, "entries": list(agg.entries)})
    return view


def _rate(numerator: int, denominator: int) -> int | None:
    return numerator * 10000 // denominator if denominator else None


class Projections:
    """The read models of one ledger database and the runner that keeps them up to date."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        rules: GradingRules,
        clock: Callable[[], str] = today_china,
        ledger: Ledger | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.rules = rules
        self.clock = clock
        self._ledger = ledger
        self._own_ledger = False
        self._cache: dict[str, _Aggregate] = {}
        self._cache_position = -1
        self._makers: set[str] = set()  # subjects known to have made a commitment (counted once in indicators)
        self._lock = threading.RLock()
        self.before_tracking: Callable[[Connection], None] | None = None
        """Called inside each batch's transaction after the view updates, before the tracking write."""

    # -- opening -----------------------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        rules: GradingRules | None = None,
        clock: Callable[[], str] = today_china,
        ledger: Ledger | None = None,
    ) -> Projections:
        """Open the read models in the ledger's database (creating the ``proj_`` tables if needed).

        ``rules`` default to the operator's file (``load_grading_rules``); ``clock`` gives today's date, the
        ``as_of`` of the stored histories. When the rules differ from those the stored grades were made with,
        every stored history is marked stale and is recomputed on its next read or run.

        Raises:
            MalformedInput: the grading rules file is invalid.
        """
        settings = settings or Settings.from_env()
        rules = rules or load_grading_rules(settings)
        projections = cls(settings, make_engine(settings), rules, clock, ledger)
        projections._create()
        return projections

    def _create(self) -> None:
        existing = inspect(self.engine)
        if existing.has_table(SUBJECT_HISTORY.name) and "history" in {
            c["name"] for c in existing.get_columns(SUBJECT_HISTORY.name)
        }:
            METADATA.drop_all(self.engine)  # an earlier layout: rebuilt from the log
        METADATA.create_all(self.engine)
        rules_json = _dumps(self.rules.to_mapping())
        with write_transaction(self.engine) as conn:
            stored = conn.execute(select(META.c.value).where(META.c.key == "rules")).scalar()
            if stored != rules_json:
                conn.execute(update(SUBJECT_HISTORY).values(as_of="", version=SUBJECT_HISTORY.c.version + 1))
                upsert(conn, META, [{"key": "rules", "value": rules_json}], ["key"])
            upsert(
                conn,
                TRACKING,
                [{"name": RUNNER, "position": 0}],
                ["name"],
                update=lambda excluded: {"position": TRACKING.c.position},
            )

    def close(self) -> None:
        """Release the database connections (and the ledger this object opened itself, if any)."""
        self.engine.dispose()
        if self._own_ledger and self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def _the_ledger(self) -> Ledger:
        if self._ledger is None:
            from ledger.service import Ledger

            self._ledger = Ledger.open(self.settings)
            self._own_ledger = True
        return self._ledger

    # -- running -----------------------------------------------------------------------------------------------

    def position(self) -> int:
        """The index of the next entry to apply (the number of entries applied)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(TRACKING.c.position).where(TRACKING.c.name == RUNNER)).scalar_one())

    def run_once(
        self,
        ledger: Ledger,
        *,
        batch: int = BATCH,
        progress: Callable[[int, int], None] | None = None,
        flush_budget: float | None = None,
        flush_max_chain: int | None = None,
    ) -> int:
        """Apply every entry after the tracked position, ``batch`` entries per transaction, then recompute the
        histories of the subjects they concern. Return the number of entries applied.

        ``flush_budget`` (seconds) bounds the recomputation: the subjects with the shortest chains go first and
        whatever the budget leaves stays stale, recomputed on its next read or run (a served log's poller uses
        this, so a subject concerned by every entry, such as a busy authority, is not recomputed on every tick);
        ``flush_max_chain`` leaves subjects with longer chains stale likewise.

        Raises:
            ProjectionError: an entry cannot be applied (its batch is rolled back; the position stays), or
                another runner advanced the position meanwhile (likewise).
        """
        if self._ledger is None:
            self._ledger = ledger
        with self._lock:
            size = ledger.size()
            applied = 0
            start = self.position()
            if start != self._cache_position:
                self._cache.clear()
            while start < size:
                stop = min(size, start + batch)
                try:
                    self._apply_batch(ledger, start, stop)
                except BaseException:
                    self._cache.clear()
                    self._cache_position = -1
                    raise
                applied += stop - start
                start = stop
                self._cache_position = stop
                if progress is not None:
                    progress(start, size)
            self._flush(ledger, budget=flush_budget, max_chain=flush_max_chain)
            return applied

    def rebuild(self, ledger: Ledger, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop every read model and rebuild it from entry 0; return the number of entries applied.

        Raises:
            ProjectionError: as ``run_once``.
        """
        with self._lock:
            METADATA.drop_all(self.engine)
            self._makers.clear()
            self._cache.clear()
            self._cache_position = -1
            self._create()
            return self.run_once(ledger, batch=2000, progress=progress)

    def _facts(self, ledger: Ledger) -> Facts:
        return Facts(
            operator=ledger.operator,
            authority=ledger.authority,
            is_registered=lambda _s: True,
            key_is_valid=lambda _s, _k: True,
        )

    def _load(self, conn: Connection, ledger: Ledger, kind: str, aggregate_id: str) -> _Aggregate | None:
        """An aggregate's state from the cache, or replayed from the entries its stored view lists."""
        cached = self._cache.get(aggregate_id)
        if cached is not None:
            return cached
        table = CONTRACTS if kind == "contract" else COMMITMENTS
        key = table.c.contract if kind == "contract" else table.c.commitment
        view = conn.execute(select(table.c.view).where(key == aggregate_id)).scalar()
        if view is None:
            return None
        facts = self._facts(ledger)
        agg: _Aggregate | None = None
        for i in orjson.loads(view)["entries"]:
            entry = parse_entry(ledger.entry(i))
            step = _contract_step if kind == "contract" else _commitment_step
            agg = step(agg, entry, facts)[1]
        if len(self._cache) > 100_000:
            self._cache.clear()
        if agg is not None:
            self._cache[aggregate_id] = agg
        return agg

    def _apply_batch(self, ledger: Ledger, start: int, stop: int) -> None:
        """Apply entries ``start``..``stop`` - 1: worked out on a reading connection, then written in one short
        transaction, so the database's write lock (shared with the log's appends on SQLite) is held only while
        the rows are written. The position's compare-and-set in that transaction refuses a range another runner
        applied meanwhile."""
        facts = self._facts(ledger)
        with self.engine.connect() as conn:
            batch = _Batch()
            expected = start
            for index, data in ledger.entries(start, stop):
                if index != expected:
                    raise ProjectionError(f"the log skipped from entry {expected} to {index}", index=index)
                expected += 1
                try:
                    self._apply_entry(conn, ledger, facts, batch, parse_entry(data))
                except ProjectionError:
                    raise
                except Exception as e:
                    raise ProjectionError(f"entry {index} cannot be projected: {e}", index=index) from e
            if expected != stop:
                raise ProjectionError(f"the log ended at {expected}, before {stop}", index=expected)
        with write_transaction(self.engine) as conn:
            self._write(conn, batch)
            if self.before_tracking is not None:
                self.before_tracking(conn)
            moved = conn.execute(
                update(TRACKING)
                .where(and_(TRACKING.c.name == RUNNER, TRACKING.c.position == start))
                .values(position=stop)
            )
            if moved.rowcount != 1:
                raise ProjectionError(f"another runner moved the position from {start}", index=start)
        self._makers.update(batch.makers)  # committed: each has a commitment for good

    def _apply_entry(self, conn: Connection, ledger: Ledger, facts: Facts, batch: _Batch, entry: Entry) -> None:
        st = entry.statement
        stype = st["type"]
        aggregate_id = st["aggregate"]
        month = st["time"][:7]
        for subject in entry.links:
            batch.subject_rows.append(
                {"subject": subject, "idx": entry.index, "type": stype, "aggregate": aggregate_id}
            )
            batch.touched.add(subject)
        if stype == "subject.registered":
            batch.count(month, "", "subjects_registered")
        elif stype in CONTRACT_STATEMENT_TYPES:
            agg = None if stype == "contract.proposed" else self._load(conn, ledger, "contract", aggregate_id)
            old, agg = _contract_step(agg, entry, facts)
            self._cache[aggregate_id] = agg
            batch.contracts[aggregate_id] = agg
            self._count_contract(batch, month, stype, old, agg.state)
        elif stype in COMMITMENT_TYPES:
            agg = None if stype == "commitment.made" else self._load(conn, ledger, "commitment", aggregate_id)
            _, agg = _commitment_step(agg, entry, facts)
            self._cache[aggregate_id] = agg
            batch.commitments[aggregate_id] = agg
            if stype == "commitment.made":
                batch.count(month, "", "commitments_made")
                maker = st["actor"]
                if maker not in batch.makers and maker not in self._makers:
                    batch.makers.add(maker)
                    earlier = conn.execute(
                        select(COMMITMENTS.c.commitment).where(COMMITMENTS.c.maker == maker).limit(1)
                    ).first()
                    if earlier is None:
                        batch.count(month, "", "subjects_committed")
            elif stype == "commitment.kept":
                batch.count(month, "", "commitments_kept")
            elif stype == "commitment.broken":
                batch.count(month, "", "commitments_broken")

    @staticmethod
    def _count_contract(batch: _Batch, month: str, stype: str, old: ContractState | None, new: ContractState) -> None:
        ctype = str(new.terms["type"])
        if stype == "contract.proposed":
            batch.count(month, ctype, "contracts_proposed")
        elif stype == "performance.reported":
            batch.count(month, ctype, "performances_reported")
        elif stype == "performance.confirmed":
            batch.count(month, ctype, "performances_confirmed")
        elif stype == "performance.disputed":
            batch.count(month, ctype, "performances_disputed")
        if old is None:
            return
        if old.status == "proposed" and new.status == "registered":
            batch.count(month, ctype, "contracts_registered")
        if old.status != "terminated" and new.status == "terminated":
            batch.count(month, ctype, "contracts_terminated")
        for mid, m in new.milestones.items():
            before = old.milestones.get(mid)
            if m.settled and (before is None or not before.settled):
                batch.count(month, ctype, "milestones_settled")
                if m.outcome == "fulfilled" and m.on is not None and m.on <= m.due:
                    batch.count(month, ctype, "milestones_on_time")

    def _write(self, conn: Connection, batch: _Batch) -> None:
        if batch.subject_rows:
            conn.execute(SUBJECT_ENTRIES.insert(), batch.subject_rows)
        rows = []
        for cid, agg in batch.contracts.items():
            s: ContractState = agg.state
            view = contract_view(cid, agg)
            rows.append(
                {
                    "contract": cid,
                    "type": str(s.terms["type"]),
                    "number": str(s.terms.get("number", "")),
                    "title": str(s.terms.get("title", "")),
                    "status": view["status"],
                    "proposer": s.proposer,
                    "created_at": agg.created_at,
                    "registered_at": agg.registered_at,
                    "last_index": agg.entries[-1],
                    "view": _dumps(view),
                }
            )
        upsert(conn, CONTRACTS, rows, ["contract"])
        rows = []
        for cid, agg in batch.commitments.items():
            c: CommitmentState = agg.state
            rows.append(
                {
                    "commitment": cid,
                    "maker": c.maker,
                    "authority": c.authority,
                    "kind": c.kind,
                    "status": c.status,
                    "made_on": c.made_on,
                    "deadline": c.deadline,
                    "created_at": agg.created_at,
                    "last_index": agg.entries[-1],
                    "view": _dumps(commitment_view(cid, agg)),
                }
            )
        upsert(conn, COMMITMENTS, rows, ["commitment"])
        counter_rows = [
            {"month": month, "contract_type": ctype, **counts} for (month, ctype), counts in batch.counters.items()
        ]
        upsert(
            conn,
            INDICATORS,
            counter_rows,
            ["month", "contract_type"],
            update=lambda excluded: {n: INDICATORS.c[n] + excluded[n] for n in COUNTERS},
        )
        stale = [
            {
                "subject": s,
                "as_of": "",
                "version": 1,
                "through": 0,
                "kind": None,
                "grade": "",
                "score": 0,
                "overdue_open": 0,
                "commitments_broken": 0,
                "arrears_amount": 0,
            }
            for s in sorted(batch.touched)
        ]
        upsert(
            conn,
            SUBJECT_HISTORY,
            stale,
            ["subject"],
            update=lambda excluded: {"as_of": "", "version": SUBJECT_HISTORY.c.version + 1},
        )

    # -- histories ---------------------------------------------------------------------------------------------

    def _flush(self, ledger: Ledger, *, budget: float | None = None, max_chain: int | None = None) -> int:
        """Recompute stale histories, shortest chains first: all of them, or those with at most ``max_chain``
        entries that ``budget`` seconds allow; return how many."""
        with self.engine.connect() as conn:
            chain = func.count(SUBJECT_ENTRIES.c.idx)
            query = (
                select(SUBJECT_HISTORY.c.subject)
                .join(SUBJECT_ENTRIES, SUBJECT_ENTRIES.c.subject == SUBJECT_HISTORY.c.subject, isouter=True)
                .where(SUBJECT_HISTORY.c.as_of == "")
                .group_by(SUBJECT_HISTORY.c.subject)
                .order_by(chain, SUBJECT_HISTORY.c.subject)
            )
            if max_chain is not None:
                query = query.having(chain <= max_chain)
            stale = [str(s) for s in conn.execute(query).scalars()]
        deadline = None if budget is None else time.monotonic() + budget
        return self._recompute(ledger, stale, self.clock(), deadline)

    def _recompute(self, ledger: Ledger, subjects: Sequence[str], today: str, deadline: float | None) -> int:
        """Work out and store the histories of ``subjects`` in turn until ``deadline`` (monotonic) passes;
        stored ``STORE_CHUNK`` at a time, so the write lock is taken once per chunk; return how many."""
        done = 0
        pending: list[_Computed] = []
        for subject in subjects:
            if deadline is not None and time.monotonic() > deadline:
                break
            pending.append(self._work_out(ledger, subject, today))
            done += 1
            if len(pending) >= STORE_CHUNK:
                self._store(pending)
                pending = []
        self._store(pending)
        return done

    def refresh(self, ledger: Ledger | None = None) -> int:
        """Recompute every stored history whose date is not today (overdue ages grow with the calendar) and
        every stale one; return how many were recomputed."""
        ledger = ledger or self._the_ledger()
        today = self.clock()
        with self.engine.connect() as conn:
            old = [
                str(s)
                for s in conn.execute(
                    select(SUBJECT_HISTORY.c.subject).where(SUBJECT_HISTORY.c.as_of != today)
                ).scalars()
            ]
        return self._recompute(ledger, old, today, None)

    def subject_entries(self, subject: str, *, before: int | None = None) -> list[int]:
        """The indexes of the applied entries concerning ``subject``, ascending (all, or those below ``before``)."""
        with self.engine.connect() as conn:
            return self._subject_entries(conn, subject, before)

    def _subject_entries(self, conn: Connection, subject: str, before: int | None) -> list[int]:
        q = select(SUBJECT_ENTRIES.c.idx).where(SUBJECT_ENTRIES.c.subject == subject)
        if before is not None:
            q = q.where(SUBJECT_ENTRIES.c.idx < before)
        return [int(i) for i in conn.execute(q.order_by(SUBJECT_ENTRIES.c.idx)).scalars()]

    def _compute(self, ledger: Ledger, subject: str, as_of: str, *, store: bool) -> tuple[History, Grade]:
        done = self._work_out(ledger, subject, as_of)
        if store and done.version is not None:
            self._store([done])
        return done.history, done.graded

    def _work_out(self, ledger: Ledger, subject: str, as_of: str) -> _Computed:
        """``subject``'s history and grade as of ``as_of`` from its applied entries (nothing written)."""
        with self.engine.begin() as conn:
            position = int(conn.execute(select(TRACKING.c.position).where(TRACKING.c.name == RUNNER)).scalar_one())
            version = conn.execute(
                select(SUBJECT_HISTORY.c.version).where(SUBJECT_HISTORY.c.subject == subject)
            ).scalar()
            indexes = self._subject_entries(conn, subject, position)
        found = ledger.entries_at(indexes)
        entries = [orjson.loads(found[i]) for i in indexes]
        history = compute_history(subject, entries, as_of=as_of)
        return _Computed(subject, as_of, position, version, history, grade(history, self.rules))

    def _store(self, computed: Sequence[_Computed]) -> None:
        """Store worked-out histories in one short write transaction; a row whose version moved since it was
        read (a newer entry marked it stale again) keeps waiting for the next run."""
        rows = [c for c in computed if c.version is not None]
        if not rows:
            return
        figures = [
            {
                "s": c.subject,
                "v": c.version,
                "new_as_of": c.as_of,
                "new_through": c.position,
                "new_kind": c.history.kind,
                "new_grade": c.graded.grade,
                "new_score": c.graded.score,
                "new_overdue_open": c.history.value("milestones.overdue_open") or 0,
                "new_commitments_broken": c.history.value("commitments.broken") or 0,
                "new_arrears_amount": c.history.value("arrears.amount") or 0,
            }
            for c in rows
        ]
        docs = [
            {"subject": c.subject, "history": _dumps(c.history.to_dict()), "grading": _dumps(c.graded.to_dict())}
            for c in rows
        ]
        with write_transaction(self.engine) as conn:
            upsert(conn, SUBJECT_DOCS, docs, ["subject"])  # read only beside a row whose as_of is set
            conn.execute(_STORE_HISTORY, figures)

    def record(self, subject: str) -> dict[str, Any] | None:
        """The stored row of ``subject`` as it is (a primary-key read, no recomputation): ``{"subject",
        "as_of", "through", "kind", "grade", "score", "history", "grading"}``; None when the subject has no
        row or it awaits recomputation."""
        with self.engine.connect() as conn:
            row = conn.execute(_RECORD, {"subject": subject}).first()
        if row is None or row.as_of == "":
            return None
        return {
            "subject": subject,
            "as_of": row.as_of,
            "through": int(row.through),
            "kind": row.kind,
            "grade": row.grade,
            "score": int(row.score),
            "history": orjson.loads(row.history),
            "grading": orjson.loads(row.grading),
        }

    def assess(self, subject: str, as_of: str | None = None) -> tuple[History, Grade]:
        """``subject``'s history and grade as of ``as_of`` (default today).

        Today's comes from the stored row when it is current (a primary-key read); otherwise it is recomputed
        from the subject's entries and stored. A past or future date is recomputed from the subject's entries
        with verifier.history (the log is the history) and not stored.

        Raises:
            FormatError: ``as_of`` is not a date ``YYYY-MM-DD``.
        """
        today = self.clock()
        if as_of is None or as_of == today:
            stored = self.record(subject)
            if stored is not None and stored["as_of"] == today:
                h = history_from_dict(stored["history"])
                g = stored["grading"]
                return h, Grade(
                    g["score"],
                    g["grade"],
                    tuple(Factor(f["name"], f["points"], tuple(f["entries"]), f["explanation"]) for f in g["factors"]),
                )
            return self._compute(self._the_ledger(), subject, today, store=True)
        return self._compute(self._the_ledger(), subject, as_of, store=False)

    def history(self, subject: str, as_of: str | None = None) -> History:
        """``subject``'s figures as of ``as_of`` (default today); see ``assess``.

        Raises:
            FormatError: ``as_of`` is not a date.
        """
        return self.assess(subject, as_of)[0]

    def grade(self, subject: str, as_of: str | None = None) -> Grade:
        """``subject``'s score and grade under the operator's rules as of ``as_of`` (default today).

        Raises:
            FormatError: ``as_of`` is not a date.
        """
        return self.assess(subject, as_of)[1]

    def subjects(self, *, grade: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Stored subjects (``{"subject", "grade", "score", "overdue_open", "commitments_broken",
        "arrears_amount", "as_of"}``), lowest score first, optionally of one grade."""
        q = select(
            SUBJECT_HISTORY.c.subject,
            SUBJECT_HISTORY.c.grade,
            SUBJECT_HISTORY.c.score,
            SUBJECT_HISTORY.c.overdue_open,
            SUBJECT_HISTORY.c.commitments_broken,
            SUBJECT_HISTORY.c.arrears_amount,
            SUBJECT_HISTORY.c.as_of,
        ).where(SUBJECT_HISTORY.c.as_of != "")
        if grade is not None:
            q = q.where(SUBJECT_HISTORY.c.grade == grade)
        q = q.order_by(SUBJECT_HISTORY.c.score, SUBJECT_HISTORY.c.subject).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- contracts, commitments, indicators --------------------------------------------------------------------

    def contract(self, contract_id: str) -> dict[str, Any]:
        """The contract view (``contract_view``).

        Raises:
            NotFound: no applied entry created that contract.
        """
        with self.engine.connect() as conn:
            view = conn.execute(select(CONTRACTS.c.view).where(CONTRACTS.c.contract == contract_id)).scalar()
        if view is None:
            raise NotFound(f"no contract {contract_id}", code="no_contract")
        result: dict[str, Any] = orjson.loads(view)
        return result

    def commitment(self, commitment_id: str) -> dict[str, Any]:
        """The commitment view (``commitment_view``).

        Raises:
            NotFound: no applied entry made that commitment.
        """
        with self.engine.connect() as conn:
            view = conn.execute(select(COMMITMENTS.c.view).where(COMMITMENTS.c.commitment == commitment_id)).scalar()
        if view is None:
            raise NotFound(f"no commitment {commitment_id}", code="no_commitment")
        result: dict[str, Any] = orjson.loads(view)
        return result

    def indicators(self, by: Grouping = "month_type") -> list[dict[str, Any]]:
        """Platform indicators (docs/reports.md, "Indicators"), grouped by month and contract type, by month or by
        contract type: the counters and the rates in basis points (None when the denominator is 0).
        ``contract_type`` "" holds subjects and commitments, which have no contract type.

        Rates: ``registration_rate`` registered / proposed; ``co_confirmation_rate`` performance confirmed by
        the counterparty / (confirmed + disputed); ``on_time_rate`` milestones settled fulfilled on time /
        settled; ``commitment_fulfilment_rate`` kept / (kept + broken); ``commitment_coverage`` subjects that
        have made a commitment / subjects registered, cumulative up to the month (over all time by type).
        """
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(INDICATORS))]
        groups: dict[tuple[str, str], dict[str, int]] = {}
        for r in rows:
            key = (
                r["month"] if by != "type" else "",
                r["contract_type"] if by != "month" else "",
            )
            g = groups.setdefault(key, dict.fromkeys(COUNTERS, 0))
            for n in COUNTERS:
                g[n] += int(r[n])
        out: list[dict[str, Any]] = []
        registered = committed = 0
        month_totals: dict[str, tuple[int, int]] = {}
        for r in sorted(rows, key=lambda r: r["month"]):
            month_totals.setdefault(r["month"], (0, 0))
            a, b = month_totals[r["month"]]
            month_totals[r["month"]] = (a + int(r["subjects_registered"]), b + int(r["subjects_committed"]))
        cumulative: dict[str, int | None] = {}
        for month in sorted(month_totals):
            registered += month_totals[month][0]
            committed += month_totals[month][1]
            cumulative[month] = _rate(committed, registered)
        for (month, ctype), g in sorted(groups.items()):
            item: dict[str, Any] = {}
            if by != "type":
                item["month"] = month
            if by != "month":
                item["contract_type"] = ctype
            item.update(g)
            item["registration_rate"] = _rate(g["contracts_registered"], g["contracts_proposed"])
            item["co_confirmation_rate"] = _rate(
                g["performances_confirmed"], g["performances_confirmed"] + g["performances_disputed"]
            )
            item["on_time_rate"] = _rate(g["milestones_on_time"], g["milestones_settled"])
            item["commitment_fulfilment_rate"] = _rate(
                g["commitments_kept"], g["commitments_kept"] + g["commitments_broken"]
            )
            if by == "type":
                item["commitment_coverage"] = _rate(g["subjects_committed"], g["subjects_registered"])
            else:
                item["commitment_coverage"] = cumulative.get(month)
            out.append(item)
        return out

    def counts(self) -> dict[str, int]:
        """Row counts of the read models (for status pages and tests)."""
        with self.engine.connect() as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (SUBJECT_HISTORY, SUBJECT_ENTRIES, CONTRACTS, COMMITMENTS, INDICATORS)
            }

    def start_polling(self, ledger: Ledger, interval: float = 0.25) -> Poller:
        """Start a daemon thread that runs ``run_once`` every ``interval`` seconds; return it (``.stop()``)."""
        from ledger.projections.poller import Poller

        poller = Poller(self, ledger, interval)
        poller.start()
        return poller
