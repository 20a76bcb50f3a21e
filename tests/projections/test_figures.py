"""Projected figures, grades, views and indicators against the hand-worked scenario (see conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.errors import NotFound
from ledger.projections import Projections
from ledger.settings import Settings
from tests.projections.conftest import AS_OF, E_CODE, G_CODE, Scenario
from verifier.entry import parse_entry


@pytest.fixture(scope="module")
def projections(scenario: Scenario, shared_settings: Settings) -> Iterator[Projections]:
    p = Projections.open(shared_settings, clock=lambda: AS_OF, ledger=scenario.ledger)
    p.run_once(scenario.ledger)
    yield p
    p.close()


def value(p: Projections, subject: str, key: str, as_of: str | None = None) -> int | None:
    return p.history(subject, as_of).value(key)


def test_all_entries_applied(projections: Projections, scenario: Scenario) -> None:
    assert projections.position() == scenario.ledger.size()
    assert projections.run_once(scenario.ledger) == 0


def test_enterprise_milestone_classes(projections: Projections, scenario: Scenario) -> None:
    h = projections.history(E_CODE)
    assert h.as_of == AS_OF
    assert h.kind == "enterprise"
    expected = {
        "milestones.on_time": 1,
        "milestones.on_time_amount": 3_000_000,
        "milestones.late": 1,
        "milestones.late_amount": 1_000_000,
        "milestones.partial": 1,
        "milestones.partial_amount": 1_500_000,
        "milestones.failed": 0,
        "milestones.overdue_open": 0,
        "milestones.disputed": 0,
        "milestones.open": 0,
        "milestones.due": 3,
        "milestones.due_amount": 6_000_000,
        "milestones.ever_disputed": 1,
        "contracts.party": 2,
        "contracts.registered": 1,
        "contracts.completed": 1,
        "max_days_overdue": 0,
        "arrears.count": 0,
    }
    for key, want in expected.items():
        assert h.value(key) == want, key
    m = scenario.marks
    late = h.figure("milestones.late")
    assert late is not None
    assert late.entries == tuple(sorted([m["c2_proposed"], m["n1_overdue"], m["n1_reported"], m["n1_confirmed"]]))


def test_enterprise_rates(projections: Projections) -> None:
    # D = {m1 on time, n1 late, m3 partial}: (2*2 + 1) * 10000 // 6
    assert value(projections, E_CODE, "fulfilment_rate_count") == 8333
    # (3 000 000 + 1 000 000 + 1 500 000) * 10000 // 6 000 000
    assert value(projections, E_CODE, "fulfilment_rate_amount") == 9166
    # R = {m1, m3, n1}, one ever disputed
    assert value(projections, E_CODE, "dispute_rate") == 3333
    assert value(projections, E_CODE, "termination_rate") == 0


def test_enterprise_commitments_and_grade(projections: Projections, scenario: Scenario) -> None:
    assert value(projections, E_CODE, "commitments.kept") == 1
    assert value(projections, E_CODE, "commitments.broken") == 1
    assert value(projections, E_CODE, "commitments.approval_substitute.kept") == 1
    assert value(projections, E_CODE, "commitments.deficiency_acceptance.broken") == 1
    g = projections.grade(E_CODE)
    # 800 + 8333*60//10000 (49) + 9166*40//10000 (36) - 10 late - 20 partial - 80 broken + 10 kept
    assert (g.score, g.grade) == (785, "B")
    points = {f.name: f.points for f in g.factors}
    assert points == {
        "base": 800,
        "fulfilment_rate_count": 49,
        "fulfilment_rate_amount": 36,
        "late": -10,
        "partial": -20,
        "failed": 0,
        "overdue": 0,
        "disputed": 0,
        "commitments_broken": -80,
        "commitments_overdue": 0,
        "commitments_kept": 10,
    }
    broken = next(f for f in g.factors if f.name == "commitments_broken")
    assert broken.entries == (scenario.marks["k2_made"], scenario.marks["k2_broken"])


def test_government_overdue_and_arrears(projections: Projections, scenario: Scenario) -> None:
    h = projections.history(G_CODE)
    assert h.kind == "government"
    assert h.value("milestones.overdue_open") == 1
    assert h.value("milestones.on_time") == 1
    assert h.value("fulfilment_rate_count") == 5000
    assert h.value("fulfilment_rate_amount") == 2500
    # due 2025-04-30, as of 2025-09-10
    assert h.value("max_days_overdue") == 133
    assert h.value("arrears.count") == 1
    assert h.value("arrears.amount") == 3_000_000
    assert [(o.contract, o.milestone, o.days) for o in h.arrears] == [(scenario.c1, "m2", 133)]
    assert h.value("obligee.overdue") == 0
    assert projections.history(E_CODE).value("obligee.overdue_amount") == 3_000_000
    g = projections.grade(G_CODE)
    # 800 + 30 + 10 - (25 + 4 * 10)
    assert (g.score, g.grade) == (775, "B")


def test_stored_row_is_read_back(projections: Projections) -> None:
    record = projections.record(G_CODE)
    assert record is not None
    assert (record["as_of"], record["grade"], record["score"]) == (AS_OF, "B", 775)
    assert record["history"]["figures"]["arrears.amount"]["value"] == 3_000_000
    rows = {r["subject"]: r for r in projections.subjects()}
    assert rows[G_CODE]["overdue_open"] == 1
    assert rows[G_CODE]["arrears_amount"] == 3_000_000
    assert rows[E_CODE]["commitments_broken"] == 1
    assert [r["subject"] for r in projections.subjects(grade="B")][:2] == [G_CODE, E_CODE]


def test_history_as_of_a_past_date(projections: Projections) -> None:
    # As of 2025-04-15 only m1 is settled; C2 is registered, nothing of it is due; K1 and K2 are open.
    h = projections.history(E_CODE, "2025-04-15")
    assert h.as_of == "2025-04-15"
    assert h.value("milestones.on_time") == 1
    assert h.value("milestones.late") == 0
    assert h.value("milestones.open") == 2  # m3 and n1 (m2 is owed by G)
    assert h.value("commitments.open") == 2
    assert h.value("fulfilment_rate_count") == 10000
    g = projections.grade(E_CODE, "2025-04-15")
    assert (g.score, g.grade) == (900, "A")
    gov = projections.grade(G_CODE, "2025-04-15")
    assert (gov.score, gov.grade) == (800, "B")
    # the stored row is still today's
    record = projections.record(E_CODE)
    assert record is not None and record["as_of"] == AS_OF


def test_subject_entries_are_the_subject_chain(projections: Projections, scenario: Scenario) -> None:
    indexes = projections.subject_entries(E_CODE)
    walked = []
    link: int | None = indexes[-1]
    while link is not None:
        walked.append(link)
        link = parse_entry(scenario.ledger.entry(link)).links[E_CODE]
    assert indexes == sorted(walked)


def test_contract_view(projections: Projections, scenario: Scenario) -> None:
    m = scenario.marks
    view = projections.contract(scenario.c1)
    assert view["status"] == "registered"
    assert view["type"] == "government_procurement"
    assert view["registered_at"] == m["c1_registered"]
    assert [p["subject"] for p in view["parties"]] == [G_CODE, E_CODE]
    ms = {x["id"]: x for x in view["milestones"]}
    assert (ms["m1"]["status"], ms["m1"]["on_time"]) == ("settled", True)
    assert ms["m1"]["entries"] == [m["c1_proposed"], m["m1_reported"], m["m1_confirmed"]]
    assert ms["m2"]["status"] == "open" and ms["m2"]["entries"] == [m["c1_proposed"]]
    assert (ms["m3"]["status"], ms["m3"]["outcome"], ms["m3"]["amount"], ms["m3"]["settled_by"]) == (
        "settled",
        "partial",
        1_500_000,
        "resolved",
    )
    assert ms["m3"]["entries"] == [m["c1_proposed"], m["m3_reported"], m["m3_disputed"], m["m3_resolved"]]
    c2 = projections.contract(scenario.c2)
    assert c2["status"] == "completed"
    n1 = next(x for x in c2["milestones"] if x["id"] == "n1")
    assert n1["overdue"] is True and n1["on_time"] is False
    with pytest.raises(NotFound):
        projections.contract("00000000-0000-4000-8000-000000000000")


def test_commitment_view(projections: Projections, scenario: Scenario) -> None:
    k1 = projections.commitment(scenario.k1)
    assert (k1["status"], k1["maker"], k1["on"]) == ("kept", E_CODE, "2025-06-20")
    assert k1["entries"] == [scenario.marks["k1_made"], scenario.marks["k1_kept"]]
    assert projections.commitment(scenario.k2)["status"] == "broken"
    with pytest.raises(NotFound):
        projections.commitment("00000000-0000-4000-8000-000000000000")


def test_indicators(projections: Projections) -> None:
    rows = {(r["month"], r["contract_type"]): r for r in projections.indicators()}
    jan = rows[("2025-01", "government_procurement")]
    assert (jan["contracts_proposed"], jan["contracts_registered"], jan["registration_rate"]) == (1, 1, 10000)
    june = rows[("2025-06", "government_procurement")]
    # n1 and n2 confirmed in June; m3 disputed in July
    assert (june["performances_confirmed"], june["performances_disputed"]) == (2, 0)
    assert june["co_confirmation_rate"] == 10000
    july = rows[("2025-07", "government_procurement")]
    assert (july["performances_disputed"], july["milestones_settled"], july["on_time_rate"]) == (1, 1, 0)
    # settled in June: n1 (late), n2 (on time)
    assert (june["milestones_settled"], june["milestones_on_time"], june["on_time_rate"]) == (2, 1, 5000)
    commitments = rows[("2025-06", "")]
    assert (commitments["commitments_kept"], commitments["commitments_broken"]) == (1, 1)
    assert commitments["commitment_fulfilment_rate"] == 5000
    april = rows[("2025-04", "")]
    assert (april["commitments_made"], april["subjects_committed"]) == (2, 1)
    by_type = {r["contract_type"]: r for r in projections.indicators("type")}
    total = by_type["government_procurement"]
    assert (total["milestones_settled"], total["milestones_on_time"]) == (4, 2)
    assert total["on_time_rate"] == 5000
    # m1, n1, n2 confirmed, m3 disputed
    assert total["co_confirmation_rate"] == 7500
    # two subjects registered (E and G), one has made a commitment
    assert by_type[""]["commitment_coverage"] == 5000
    by_month = projections.indicators("month")
    assert all("contract_type" not in r for r in by_month)
    assert by_month[-1]["commitment_coverage"] == 5000
