"""Judgment import and review, objections with working-day limits, repairs and publicity, figures, indicators."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ledger import judgments, objections, repair
from ledger.errors import MalformedInput, RuleRejected
from ledger.objections import Calendar, ObjectionPolicy, subject_entries
from tests.casework.conftest import Scene, sign_contract
from tests.casework.test_rules import make_commitment
from verifier.history import compute_history

H = "cd" * 32


def row(scene: Scene, **over: str) -> dict[str, str]:
    r = {
        "court": "天津市北辰区人民法院",
        "case_number": f"(2025)津0113民初{uuid.uuid4().hex[:6]}号",
        "kind": "judgment",
        "decided_on": "2025-06-01",
        "parties": f"{scene.a.subject};{scene.b.subject}",
        "contract": "",
        "contract_number": "BC-2025-001",
        "summary_sha256": H,
        "effect": "breach",
        "party": scene.a.subject,
        "milestone": "m1",
        "outcome": "failed",
    }
    r.update(over)
    return r


def test_import_csv_report(scene: Scene) -> None:
    header = ",".join(row(scene))
    lines = [header]
    good = row(scene)
    lines.append(",".join(good.values()))
    lines.append(",".join(row(scene, decided_on="2025-02-30").values()))
    lines.append(",".join(row(scene, parties="91120113MA0000012").values()))
    lines.append(",".join(row(scene, contract=str(uuid.uuid4())).values()))
    lines.append(
        ",".join(row(scene, contract_number="other", effect="none", party="", milestone="", outcome="").values())
    )
    lines.append(",".join(good.values()))  # the same case again
    rows = list(judgments.read_rows("\n".join(lines).encode(), "csv"))
    seen: list[int] = []
    report = judgments.import_judgments(scene.ledger, rows, seen.append)
    assert seen == [1, 2, 3, 4, 5, 6]
    got = [(r.status, r.code) for r in report.rows]
    assert got == [
        ("applied", None),
        ("refused", "bad_date"),
        ("refused", "invalid_credit_code"),
        ("refused", "unknown_contract"),
        ("review", None),
        ("refused", "duplicate"),
    ]
    assert report.to_dict()["totals"] == {"applied": 1, "matched": 0, "review": 1, "refused": 4}
    assert scene.ledger.aggregate(scene.contract)[1].milestones["m1"].outcome == "failed"


def test_jsonl_review_and_link(scene: Scene) -> None:
    cid2, _ = sign_contract(scene.a, scene.b, "BC-2025-001")  # same number: ambiguous
    data = b"\n".join(
        [
            b'{"court": "c", "case_number": "1", "decided_on": "2025-06-01", "parties": ["%s"], '
            b'"contract_number": "BC-2025-001", "summary_sha256": "%s", "effect": "none"}'
            % (scene.a.subject.encode(), H.encode()),
            b"[1, 2]",
        ]
    )
    report = judgments.import_judgments(scene.ledger, judgments.read_rows(data))
    assert [r.status for r in report.rows] == ["review", "refused"]
    assert sorted(report.rows[0].candidates) == sorted([scene.contract, cid2])
    queue = judgments.review_queue(scene.ledger)
    assert len(queue) == 1 and sorted(queue[0]["candidates"]) == sorted([scene.contract, cid2])
    judgments.link_judgment(scene.ledger, queue[0]["aggregate"], cid2)
    assert judgments.review_queue(scene.ledger) == []
    assert judgments.case(scene.ledger, queue[0]["aggregate"]).status == "matched"
    with pytest.raises(MalformedInput) as e:
        judgments.parse_judgment({"court": "c"})
    assert e.value.code == "missing_field"


def test_calendar_and_overdue_objections(scene: Scene, tmp_path: Path) -> None:
    holidays = tmp_path / "holidays.txt"
    holidays.write_text("# 国庆\n2025-10-01\n2025-10-02\n+2025-09-28  # 调休\n")
    cal = Calendar.from_file(holidays)
    assert cal.add_working_days("2025-09-26", 1) == "2025-09-28"  # a worked Sunday
    assert cal.add_working_days("2025-09-30", 1) == "2025-10-03"
    assert Calendar().add_working_days("2025-01-03", 15) == "2025-01-24"  # Friday + 15 working days
    bad = tmp_path / "bad.txt"
    bad.write_text("2025-13-01\n")
    with pytest.raises(MalformedInput):
        Calendar.from_file(bad)

    oid, _ = objections.file_objection(scene.a, scene.overdue, "交付已按期完成")
    with pytest.raises(RuleRejected) as e:
        objections.file_objection(scene.a, scene.overdue, "again")
    assert e.value.code == "already_objected"
    assert objections.under_objection(scene.ledger) == {scene.overdue}
    policy = ObjectionPolicy(limit=15)
    rows = objections.objections(scene.ledger, policy)
    due = rows[0]["due"]
    assert objections.overdue_objections(scene.ledger, policy, on=due) == []
    late = objections.overdue_objections(scene.ledger, policy, on="2999-01-01")
    assert [o["aggregate"] for o in late] == [oid]
    with pytest.raises(MalformedInput):
        objections.decide_objection(scene.ledger, oid, upheld=True, reason="成立")
    objections.decide_objection(scene.ledger, oid, upheld=True, reason="成立", correction="交付按期，逾期标记更正")
    ind = objections.objection_indicators(scene.ledger, policy)
    assert ind["filed"] == 1 and ind["upheld"] == 1 and ind["pending"] == 0
    assert ind["decided_in_time_rate"] == 10000
    assert ind["objection_rate"] == 10000 // (scene.ledger.size() - 1)
    assert objections.under_objection(scene.ledger) == set()


def figures(scene: Scene, subject: str) -> dict[str, int]:
    h = compute_history(subject, subject_entries(scene.ledger, subject), as_of="2099-12-31")
    return {k: f.value for k, f in h.figures.items()}


def test_upheld_objection_takes_the_milestone_out_of_the_figures(scene: Scene) -> None:
    before = figures(scene, scene.a.subject)
    assert before["milestones.overdue_open"] == 1
    oid, _ = objections.file_objection(scene.a, scene.overdue, "x")
    pending = figures(scene, scene.a.subject)
    assert pending["records.under_objection"] == 1
    assert pending["milestones.overdue_open"] == 1
    objections.decide_objection(scene.ledger, oid, upheld=False, reason="不成立")
    assert "records.under_objection" not in figures(scene, scene.a.subject)
    oid2, _ = objections.file_objection(scene.a, scene.overdue, "y")
    objections.decide_objection(scene.ledger, oid2, upheld=True, reason="成立", correction="更正")
    after = figures(scene, scene.a.subject)
    assert after["milestones.overdue_open"] == 0
    assert after["records.corrected"] == 1
    assert "fulfilment_rate_count" not in after
    assert figures(scene, scene.b.subject)["milestones.overdue_open"] == 1  # B's own m2 is untouched


def test_repair_and_publicity(scene: Scene) -> None:
    led = scene.ledger
    records = judgments.negative_records(led, scene.a.subject)
    assert [(r["entry"], r["kind"]) for r in records] == [(scene.overdue, "overdue")]
    policy = repair.RepairPolicy.from_mapping({"severity": {"overdue": "general"}})
    rec = repair.classify(records[0], policy)
    assert rec["severity"] == "general"
    assert rec["repairable_from"] == repair.add_months(rec["on"], 3)
    commitment = make_commitment(scene.a, scene.b.subject)
    rid, _ = repair.apply_for_repair(scene.a, scene.overdue, commitment, "已交付")
    with pytest.raises(RuleRejected) as e:
        repair.apply_for_repair(scene.a, scene.overdue, commitment, "again")
    assert e.value.code == "already_applied"
    with pytest.raises(RuleRejected) as e:
        repair.decide_repair(led, rid, approve=True, reason="ok", policy=policy)
    assert e.value.code == "too_early"
    repair.decide_repair(led, rid, approve=True, reason="ok", policy=policy, on=rec["repairable_from"])
    assert repair.withheld(led, scene.a.subject) == {scene.overdue}
    assert repair.public_records(led, scene.a.subject, policy) == []
    assert [r["withheld"] for r in repair.public_records(led, scene.a.subject, policy, full=True)] == [True]
    f = figures(scene, scene.a.subject)
    assert f["records.repaired"] == 1 and f["milestones.overdue_open"] == 0
    ind = repair.repair_indicators(led, policy)
    assert ind["applications"] == 1 and ind["approved"] == 1 and ind["pass_rate"] == 10000
    assert repair.expire_publicity(led, "2025-06-01", policy) == []  # withheld already


def test_publicity_clock_and_policy_refusals(scene: Scene) -> None:
    led = scene.ledger
    rec = repair.classify(judgments.negative_records(led, scene.a.subject)[0])
    assert repair.expire_publicity(led, repair.add_months(rec["on"], 2)) == []
    short = repair.RepairPolicy.from_mapping({"max_months": {"minor": 0}})
    ended = repair.expire_publicity(led, objections.today(), short)
    assert len(ended) == 1
    assert figures(scene, scene.a.subject)["records.publicity_ended"] == 1
    assert repair.withheld(led) == {scene.overdue}
    assert repair.expire_publicity(led, objections.today(), short) == []
    assert repair.repair_indicators(led)["publicity_ended"] == 1
    for bad in ({"severity": {"late": "minor"}}, {"min_months": {"minor": 5}}, {"decision_days": -1}, {"x": 1}):
        with pytest.raises(MalformedInput):
            repair.RepairPolicy.from_mapping(bad)
    assert repair.add_months("2025-01-31", 1) == "2025-02-28"
