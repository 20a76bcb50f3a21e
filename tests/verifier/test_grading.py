"""verifier.grading: the hand-worked grades of docs/vectors/grading.json, rule configuration, edge cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verifier.errors import FormatError
from verifier.grading import DEFAULT_RULES, FACTOR_NAMES, GradingRules, grade
from verifier.history import Figure, History, OverdueMilestone, compute_history

VECTORS = json.loads((Path(__file__).parents[2] / "docs" / "vectors" / "grading.json").read_text("utf-8"))
GRADED = [
    pytest.param(case, check, id=f"{case['name']}-{n}")
    for case in VECTORS["cases"]
    for n, check in enumerate(case["checks"])
    if "grade" in check
]


def history_of(case: dict[str, Any], check: dict[str, Any]) -> History:
    entries = [e for e in case["log"] if check["subject"] in e["links"]]
    return compute_history(check["subject"], entries, as_of=check["as_of"])


@pytest.mark.parametrize(("case", "check"), GRADED)
def test_vector_grade(case: dict[str, Any], check: dict[str, Any]) -> None:
    result = grade(history_of(case, check))
    expected = check["grade"]
    assert result.score == expected["score"]
    assert result.grade == expected["grade"]
    if "factors" in expected:
        got = [{"name": f.name, "points": f.points, "entries": list(f.entries)} for f in result.factors]
        assert got == expected["factors"]
    assert [f.name for f in result.factors] == list(FACTOR_NAMES)


def test_default_rules_match_the_table() -> None:
    assert DEFAULT_RULES.to_mapping() == VECTORS["default_rules"]
    assert GradingRules.from_mapping(VECTORS["default_rules"]) == DEFAULT_RULES


def test_explanations_state_the_arithmetic() -> None:
    case = VECTORS["cases"][0]
    result = grade(history_of(case, case["checks"][0]))
    by_name = {f.name: f for f in result.factors}
    assert by_name["fulfilment_rate_count"].explanation == "fulfilment rate by count 6250 bp x 60 / 10000: 37"
    assert by_name["commitments_overdue"].explanation == "2 overdue commitments x -30, at most -150: -60"
    assert "26 days" in by_name["overdue"].explanation
    assert result.to_dict()["factors"][0] == {
        "name": "base",
        "points": 800,
        "entries": [],
        "explanation": "base score: 800",
    }


def synthetic(**values: int) -> History:
    """A history with every figure the rules read at zero except ``values`` (dots written as __)."""
    keys = [
        "milestones.late",
        "milestones.partial",
        "milestones.failed",
        "milestones.disputed",
        "commitments.broken",
        "commitments.overdue",
        "commitments.kept",
    ]
    figures = {k: Figure(0) for k in keys}
    for k, v in values.items():
        figures[k.replace("__", ".")] = Figure(v, (1,))
    return History(subject="S", as_of="2025-01-01", kind=None, entries=(1,), figures=figures)


def test_caps_apply() -> None:
    result = grade(synthetic(milestones__failed=100, commitments__kept=100))
    by_name = {f.name: f.points for f in result.factors}
    assert by_name["failed"] == -400
    assert by_name["commitments_kept"] == 50
    assert result.score == 450
    assert result.grade == "D"


def test_score_is_clamped() -> None:
    rules = GradingRules(base_score=100, failed_cap=1000, failed_penalty=500)
    low = grade(synthetic(milestones__failed=2), rules)
    assert low.score == 0 and low.grade == "D"
    assert sum(f.points for f in low.factors) < 0
    high = grade(synthetic(commitments__kept=5), GradingRules(base_score=1000, kept_bonus=100, kept_cap=500))
    assert high.score == 1000 and high.grade == "A"


def test_overdue_by_age() -> None:
    overdue = (
        OverdueMilestone("c", "m1", "payment", 10, "2024-12-01", 31, (3,)),
        OverdueMilestone("c", "m2", "delivery", 0, "2024-09-01", 122, (3, 8)),
        OverdueMilestone("c", "m3", "delivery", 0, "2024-12-30", 2, (9,)),
    )
    base = synthetic()
    history = History(base.subject, base.as_of, None, base.entries, base.figures, overdue=overdue)
    factor = next(f for f in grade(history).factors if f.name == "overdue")
    # (25 + 1*10) + (25 + 4*10) + (25 + 0) = 125
    assert factor.points == -125
    assert factor.entries == (3, 8, 9)
    capped = next(f for f in grade(history, GradingRules(overdue_cap=100)).factors if f.name == "overdue")
    assert capped.points == -100


def test_thresholds_configurable() -> None:
    history = synthetic()
    assert grade(history).grade == "B"
    assert grade(history, GradingRules(grade_a=800)).grade == "A"
    assert grade(history, GradingRules(grade_a=950, grade_b=900, grade_c=800)).grade == "C"
    assert grade(history, GradingRules(grade_a=950, grade_b=900, grade_c=801)).grade == "D"


def test_boundaries_are_inclusive() -> None:
    assert grade(synthetic(), GradingRules(base_score=900)).grade == "A"
    assert grade(synthetic(), GradingRules(base_score=899)).grade == "B"
    assert grade(synthetic(), GradingRules(base_score=750)).grade == "B"
    assert grade(synthetic(), GradingRules(base_score=749)).grade == "C"
    assert grade(synthetic(), GradingRules(base_score=600)).grade == "C"
    assert grade(synthetic(), GradingRules(base_score=599)).grade == "D"


def test_missing_figure_refused() -> None:
    history = History(subject="S", as_of="2025-01-01", kind=None, entries=(), figures={})
    with pytest.raises(FormatError, match=r"milestones\.late"):
        grade(history)


def test_rules_round_trip_and_partial_mapping() -> None:
    rules = GradingRules.from_mapping({"base_score": 700, "grade_a": 950})
    assert rules.base_score == 700 and rules.grade_a == 950 and rules.late_penalty == DEFAULT_RULES.late_penalty
    assert GradingRules.from_mapping(rules.to_mapping()) == rules
    assert json.loads(json.dumps(rules.to_mapping())) == rules.to_mapping()


@pytest.mark.parametrize(
    "mapping",
    [
        {"base": 800},
        {"base_score": 800, "bonus": 1},
        {"base_score": "800"},
        {"base_score": 800.0},
        {"base_score": True},
        {"base_score": None},
        {"late_penalty": -1},
        {"base_score": 1001},
        {"grade_a": 1200},
        {"late_cap": 10**7},
        {"overdue_period_days": 0},
        {"grade_a": 700, "grade_b": 750},
        {"grade_b": 500, "grade_c": 600},
    ],
)
def test_rules_refused(mapping: dict[str, Any]) -> None:
    with pytest.raises(FormatError):
        GradingRules.from_mapping(mapping)


def test_rules_not_a_mapping() -> None:
    with pytest.raises(FormatError):
        GradingRules.from_mapping([("base_score", 800)])  # type: ignore[arg-type]


def test_direct_construction_is_checked() -> None:
    with pytest.raises(FormatError):
        GradingRules(kept_bonus=-5)


def test_overdue_explanations() -> None:
    case = VECTORS["cases"][0]
    bureau = grade(history_of(case, case["checks"][1]))
    overdue = next(f for f in bureau.factors if f.name == "overdue")
    assert overdue.explanation == ("1 overdue open milestones (133 days) x -25 and -10 per 30 days, at most -400: -65")
    kept = next(f for f in bureau.factors if f.name == "commitments_kept")
    assert kept.explanation == "0 kept commitments x +10, at most +50: +0"
    on_time = next(c for c in VECTORS["cases"] if c["name"] == "on_time")
    clean = grade(history_of(on_time, on_time["checks"][0]))
    assert next(f for f in clean.factors if f.name == "overdue").explanation == "no overdue open milestones: 0"
    assert grade(history_of(on_time, on_time["checks"][0])).to_dict() == clean.to_dict()
