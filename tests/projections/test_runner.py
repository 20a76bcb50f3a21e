"""The runner: incremental equals rebuilt, a crash inside a batch loses and doubles nothing, resumption,
polling, and the operator's grading rules."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, inspect, select, update

from ledger.errors import MalformedInput
from ledger.projections import ProjectionError, Projections, load_grading_rules
from ledger.projections.tables import (
    COMMITMENTS,
    CONTRACTS,
    INDICATORS,
    SUBJECT_DOCS,
    SUBJECT_ENTRIES,
    SUBJECT_HISTORY,
    TRACKING,
    make_engine,
)
from ledger.service import Ledger
from ledger.settings import Settings
from tests.projections.conftest import AS_OF, E_CODE, G_CODE, build_scenario
from verifier.grading import DEFAULT_RULES, GradingRules


@pytest.fixture
def projections(settings: Settings, ledger: Ledger) -> Iterator[Projections]:
    p = Projections.open(settings, clock=lambda: AS_OF, ledger=ledger)
    yield p
    p.close()


def snapshot(p: Projections) -> dict[str, Any]:
    """Every read model's rows, comparable between two builds."""
    out: dict[str, Any] = {}
    with p.engine.connect() as conn:
        for table, key in (
            (SUBJECT_ENTRIES, ("subject", "idx")),
            (CONTRACTS, ("contract",)),
            (COMMITMENTS, ("commitment",)),
            (INDICATORS, ("month", "contract_type")),
            (SUBJECT_DOCS, ("subject",)),
        ):
            rows = [dict(r._mapping) for r in conn.execute(select(table))]
            out[table.name] = sorted(rows, key=lambda r: tuple(r[k] for k in key))
        rows = [dict(r._mapping) for r in conn.execute(select(SUBJECT_HISTORY))]
        for r in rows:
            r.pop("version")  # how often a row went stale differs between the two builds
            r.pop("through")
        out[SUBJECT_HISTORY.name] = sorted(rows, key=lambda r: r["subject"])
    return out


def test_incremental_equals_rebuilt(projections: Projections, ledger: Ledger) -> None:
    applied: list[int] = []
    build_scenario(ledger, after=lambda: applied.append(projections.run_once(ledger)))
    assert sum(applied) == ledger.size()
    assert applied[0] == 3  # genesis, subject.registered, key.bound
    assert all(n == 1 for n in applied[2:])
    incremental = snapshot(projections)
    # every subject's history was recomputed and stored by the runs themselves, none waits for a read
    stored = incremental[SUBJECT_HISTORY.name]
    assert {r["subject"] for r in stored} == {E_CODE, G_CODE, ledger.operator, ledger.authority}
    assert all(r["as_of"] == AS_OF for r in stored)
    assert {r["subject"]: (r["grade"], r["score"]) for r in stored}[G_CODE] == ("B", 775)
    assert projections.rebuild(ledger) == ledger.size()
    assert snapshot(projections) == incremental
    assert projections.grade(E_CODE).score == 785


def test_crash_inside_a_batch_neither_loses_nor_doubles(
    projections: Projections, ledger: Ledger, settings: Settings
) -> None:
    build_scenario(ledger)
    calls = 0

    def crash_on_third(conn: Connection) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("power cut between the views and the tracking write")

    projections.before_tracking = crash_on_third
    with pytest.raises(RuntimeError):
        projections.run_once(ledger, batch=4)
    # two batches committed, the third rolled back entirely
    assert projections.position() == 8
    counts = projections.counts()
    assert counts["proj_subject_entries"] == sum(
        len(p.subject_entries(s)) for p in [projections] for s in (E_CODE, G_CODE, ledger.operator, ledger.authority)
    )
    with projections.engine.connect() as conn:
        indexes = sorted({int(i) for i in conn.execute(select(SUBJECT_ENTRIES.c.idx)).scalars()})
    assert indexes == list(range(8))

    # a new process resumes from the committed position
    projections.before_tracking = None
    resumed = Projections.open(settings, clock=lambda: AS_OF, ledger=ledger)
    try:
        assert resumed.run_once(ledger, batch=4) == ledger.size() - 8
        after_crash = snapshot(resumed)
        resumed.rebuild(ledger)
        assert snapshot(resumed) == after_crash
        assert resumed.grade(G_CODE).score == 775
    finally:
        resumed.close()


def test_position_moved_by_another_runner_rolls_the_batch_back(projections: Projections, ledger: Ledger) -> None:
    build_scenario(ledger)

    def other_runner(conn: Connection) -> None:
        conn.execute(update(TRACKING).values(position=999))  # as if another runner had moved on

    projections.before_tracking = other_runner
    with pytest.raises(ProjectionError):
        projections.run_once(ledger, batch=5)
    assert projections.position() == 0
    assert projections.counts()["proj_subject_entries"] == 0
    projections.before_tracking = None
    assert projections.run_once(ledger, batch=5) == ledger.size()
    with projections.engine.connect() as conn:
        indexes = [int(i) for i in conn.execute(select(SUBJECT_ENTRIES.c.idx)).scalars()]
    assert len(indexes) == sum(len(json.loads(ledger.entry(i))["links"]) for i in range(ledger.size()))


def test_failing_entry_rolls_back_its_batch(projections: Projections, ledger: Ledger) -> None:
    build_scenario(ledger)
    original = Projections._apply_entry

    def broken(self: Projections, conn: Connection, led: Ledger, facts: Any, batch: Any, entry: Any) -> None:
        if entry.index == 10:
            raise ValueError("cannot read this entry")
        original(self, conn, led, facts, batch, entry)

    projections._apply_entry = broken.__get__(projections)  # type: ignore[method-assign]
    with pytest.raises(ProjectionError) as caught:
        projections.run_once(ledger, batch=5)
    assert caught.value.details["index"] == 10
    assert projections.position() == 10
    del projections._apply_entry
    assert projections.run_once(ledger, batch=5) == ledger.size() - 10


def test_poller_applies_new_statements(projections: Projections, ledger: Ledger) -> None:
    # How fast is measured by bench/projection_lag.py; here only that it happens, without errors.
    poller = projections.start_polling(ledger, interval=0.1)
    try:
        build_scenario(ledger)
        deadline = time.monotonic() + 30.0
        while projections.position() < ledger.size() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert projections.position() == ledger.size()
        assert poller.errors == 0
    finally:
        poller.stop()
    assert not poller.is_alive()


def test_changed_rules_regrade_stored_histories(settings: Settings, ledger: Ledger) -> None:
    build_scenario(ledger)
    p = Projections.open(settings, clock=lambda: AS_OF, ledger=ledger)
    p.run_once(ledger)
    assert p.grade(E_CODE).score == 785
    p.close()
    strict = GradingRules.from_mapping({"broken_penalty": 200})
    q = Projections.open(settings, rules=strict, clock=lambda: AS_OF, ledger=ledger)
    try:
        assert q.record(E_CODE) is None  # stale until recomputed
        assert q.grade(E_CODE).score == 785 + 80 - 200
        q.run_once(ledger)
        assert q.subjects(grade="C")[0]["subject"] == E_CODE
    finally:
        q.close()


def test_grading_rules_file(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LVYUE_GRADING_RULES", raising=False)
    assert load_grading_rules(settings) == DEFAULT_RULES
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "grading.toml").write_text("base_score = 700\ngrade_b = 700\n", "utf-8")
    rules = load_grading_rules(settings)
    assert (rules.base_score, rules.grade_b, rules.grade_a) == (700, 700, 900)
    other = settings.data_dir / "elsewhere.json"
    other.write_text(json.dumps({"kept_bonus": 15}), "utf-8")
    monkeypatch.setenv("LVYUE_GRADING_RULES", str(other))
    assert load_grading_rules(settings).kept_bonus == 15
    other.write_text(json.dumps({"kept_bonus": 1.5}), "utf-8")
    with pytest.raises(MalformedInput):
        load_grading_rules(settings)
    other.write_text(json.dumps({"no_such_rule": 1}), "utf-8")
    with pytest.raises(MalformedInput):
        load_grading_rules(settings)
    monkeypatch.setenv("LVYUE_GRADING_RULES", str(settings.data_dir / "missing.toml"))
    with pytest.raises(MalformedInput):
        load_grading_rules(settings)


def test_read_models_commit_without_waiting_for_the_disk_the_log_does(projections: Projections, ledger: Ledger) -> None:
    # The read models are rebuilt from the log, so their commits need not wait for the disk; the log's must.
    with projections.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert ledger.store._rows("PRAGMA synchronous") == [(2,)]  # FULL
        else:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
            assert ledger.store._rows("SHOW synchronous_commit") == [("on",)]


def test_a_history_marked_stale_while_it_was_worked_out_is_not_stored(projections: Projections, ledger: Ledger) -> None:
    build_scenario(ledger)
    projections.run_once(ledger, flush_budget=0.0)  # applied, histories left stale
    assert projections.record(E_CODE) is None
    worked_out = projections._work_out(ledger, E_CODE, AS_OF)
    with projections.engine.begin() as conn:  # as the runner marks a subject its new entry concerns
        conn.execute(update(SUBJECT_HISTORY).values(version=SUBJECT_HISTORY.c.version + 1))
    projections._store([worked_out])
    assert projections.record(E_CODE) is None
    projections._store([projections._work_out(ledger, E_CODE, AS_OF)])
    stored = projections.record(E_CODE)
    assert stored is not None and stored["score"] == projections.grade(E_CODE).score


def test_read_models_of_the_earlier_layout_are_rebuilt(settings: Settings, ledger: Ledger) -> None:
    build_scenario(ledger)
    first = Projections.open(settings, clock=lambda: AS_OF, ledger=ledger)
    first.run_once(ledger)
    expected = first.grade(E_CODE).score
    with first.engine.begin() as conn:  # the layout that kept the JSON documents in the history rows
        conn.exec_driver_sql("ALTER TABLE proj_subject_history ADD COLUMN history TEXT")
    first.close()
    again = Projections.open(settings, clock=lambda: AS_OF, ledger=ledger)
    try:
        with again.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("proj_subject_history")}
        assert "history" not in columns
        assert again.position() == 0
        again.run_once(ledger)
        assert again.position() == ledger.size()
        assert again.grade(E_CODE).score == expected
    finally:
        again.close()


def test_options_of_the_database_url_are_kept(settings: Settings) -> None:
    # Without a server: the URL's options reach psycopg's connection arguments, and the engine adds none that
    # would replace them (its own setting is a statement run on each new connection).
    base = settings.database_url or "postgresql://postgres@127.0.0.1:5432/lvyue"
    url = base + ("&" if "?" in base else "?") + "options=-c%20statement_timeout%3D12345"
    engine = make_engine(dataclasses.replace(settings, database_url=url))
    try:
        _, connect_args = engine.dialect.create_connect_args(engine.url)
        assert connect_args["options"] == "-c statement_timeout=12345"
        if settings.database_url:  # and on the PostgreSQL server the tests run on, as the server applies them
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "12345ms"
                assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
    finally:
        engine.dispose()
