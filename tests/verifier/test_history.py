"""verifier.history against the hand-worked cases of docs/vectors/grading.json, and what it refuses."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from verifier.errors import FormatError
from verifier.history import COMMITMENT_KINDS, COMMITMENT_OUTCOMES, MILESTONE_CLASSES, compute_history

VECTORS = json.loads((Path(__file__).parents[2] / "docs" / "vectors" / "grading.json").read_text("utf-8"))
CHECKS = [
    pytest.param(case, check, id=f"{case['name']}-{n}")
    for case in VECTORS["cases"]
    for n, check in enumerate(case["checks"])
]


def chain(log: list[dict[str, Any]], subject: str) -> list[dict[str, Any]]:
    return [e for e in log if subject in e["links"]]


@pytest.mark.parametrize(("case", "check"), CHECKS)
def test_vector(case: dict[str, Any], check: dict[str, Any]) -> None:
    history = compute_history(check["subject"], chain(case["log"], check["subject"]), as_of=check["as_of"])
    got = history.to_dict()
    for key, expected in check["figures"].items():
        assert got["figures"].get(key) == expected, key
    for key in check.get("absent", []):
        assert key not in got["figures"], key
    if check.get("exact"):
        assert set(got["figures"]) == set(check["figures"])
    if check.get("exact_commitments"):
        commitment_keys = {k for k in got["figures"] if k.startswith("commitments.")}
        assert commitment_keys == {k for k in check["figures"] if k.startswith("commitments.")}
    if "entries" in check:
        assert got["entries"] == check["entries"]
    if "kind" in check:
        assert got["kind"] == check["kind"]
    for key in ("overdue", "arrears"):
        if key in check:
            assert got[key] == check[key]


def test_vectors_cover_every_figure_kind() -> None:
    names = {case["name"] for case in VECTORS["cases"]}
    assert {
        "worked_example",
        "on_time",
        "late",
        "partial",
        "failed",
        "overdue_then_performed",
        "disputed_then_resolved",
        "terminated",
        "amended_milestone",
        "commitments",
        "arrears",
        "as_of_hides_later",
    } <= names


def worked() -> tuple[list[dict[str, Any]], str]:
    case = VECTORS["cases"][0]
    subject = case["checks"][0]["subject"]
    return chain(case["log"], subject), subject


def test_figure_keys_are_fixed() -> None:
    entries, subject = worked()
    figures = compute_history(subject, entries, as_of="2025-09-10").figures
    for cls in MILESTONE_CLASSES:
        assert f"milestones.{cls}" in figures
        assert f"milestones.{cls}_amount" in figures
    for kind in COMMITMENT_KINDS:
        for outcome in COMMITMENT_OUTCOMES:
            assert f"commitments.{kind}.{outcome}" in figures
    for fig in figures.values():
        assert isinstance(fig.value, int) and not isinstance(fig.value, bool)
        assert list(fig.entries) == sorted(set(fig.entries))


def test_deterministic_and_accepts_any_iterable() -> None:
    entries, subject = worked()
    a = compute_history(subject, entries, as_of="2025-09-10")
    b = compute_history(subject, iter(entries), as_of="2025-09-10")
    assert a == b
    assert a.to_dict() == b.to_dict()
    assert json.loads(json.dumps(a.to_dict())) == a.to_dict()


def test_value_and_figure_accessors() -> None:
    entries, subject = worked()
    history = compute_history(subject, entries, as_of="2025-09-10")
    assert history.value("milestones.late") == 1
    assert history.value("no.such.figure") is None
    assert history.figure("no.such.figure") is None
    fig = history.figure("milestones.on_time")
    assert fig is not None and fig.entries == (3, 5, 6)


def test_empty_chain() -> None:
    history = compute_history("91110108MA01K7Q2XQ", [], as_of="2025-01-01")
    assert history.entries == ()
    assert history.kind is None
    assert history.value("contracts.party") == 0
    assert history.value("fulfilment_rate_count") is None
    assert history.value("max_days_overdue") == 0


def test_as_of_before_everything_counts_nothing() -> None:
    entries, subject = worked()
    history = compute_history(subject, entries, as_of="2024-12-31")
    assert history.entries == ()
    assert history.value("contracts.party") == 0


# ---------------------------------------------------------------------------------------------------------
# refusals


@pytest.mark.parametrize("as_of", ["2025-9-10", "2025-02-30", "20250910", "", "2025-09-10T00:00:00Z"])
def test_bad_as_of(as_of: str) -> None:
    entries, subject = worked()
    with pytest.raises(FormatError):
        compute_history(subject, entries, as_of=as_of)


def test_as_of_not_a_string() -> None:
    entries, subject = worked()
    with pytest.raises(FormatError):
        compute_history(subject, entries, as_of=20250910)  # type: ignore[arg-type]


def test_entry_left_out_breaks_the_chain() -> None:
    entries, subject = worked()
    with pytest.raises(FormatError, match="links"):
        compute_history(subject, entries[:5] + entries[6:], as_of="2025-09-10")


def test_first_entry_must_start_the_chain() -> None:
    entries, subject = worked()
    with pytest.raises(FormatError):
        compute_history(subject, entries[1:], as_of="2025-09-10")


def test_entries_out_of_order() -> None:
    entries, subject = worked()
    swapped = [entries[0], entries[2], entries[1], *entries[3:]]
    with pytest.raises(FormatError):
        compute_history(subject, swapped, as_of="2025-09-10")


def test_entry_not_concerning_subject() -> None:
    entries, _ = worked()
    with pytest.raises(FormatError, match="does not concern"):
        compute_history("91110105MA02B3C4DX", entries, as_of="2025-09-10")


def mutate(path: list[str | int], value: Any, at: int = 2) -> list[dict[str, Any]]:
    """The worked chain with entries[at] changed at ``path`` (None value deletes the member)."""
    entries, _ = worked()
    entries = copy.deepcopy(entries)
    target: Any = entries[at]
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return entries


BAD = [
    pytest.param(["index"], True, id="index-bool"),
    pytest.param(["index"], -1, id="index-negative"),
    pytest.param(["index"], "4", id="index-string"),
    pytest.param(["statement"], [], id="statement-array"),
    pytest.param(["statement", "type"], None, id="type-missing"),
    pytest.param(["statement", "type"], "contract.signed", id="type-unknown"),
    pytest.param(["statement", "time"], "2025-02-12 10:00:00", id="time-not-rfc3339"),
    pytest.param(["statement", "time"], "2025-02-30T10:00:00Z", id="time-invalid-date"),
    pytest.param(["statement", "body"], "x", id="body-string"),
    pytest.param(["statement", "aggregate"], 7, id="aggregate-int"),
    pytest.param(["statement", "aggregate"], "00000000-0000-4000-8000-000000000000", id="unknown-contract"),
]


@pytest.mark.parametrize(("path", "value"), BAD)
def test_malformed_entry(path: list[str | int], value: Any) -> None:
    entries = mutate(path, value)
    _, subject = worked()
    with pytest.raises(FormatError):
        compute_history(subject, entries, as_of="2025-09-10")


def test_entry_not_an_object() -> None:
    entries, subject = worked()
    with pytest.raises(FormatError):
        compute_history(subject, [*entries[:3], "entry"], as_of="2025-09-10")  # type: ignore[list-item]


# positions in the enterprise's worked chain: 1 is entry 3 (proposal of C1), 3 is entry 5 (report of m1),
# 15 is entry 17 (commitment K3 made)
BAD_BODIES = [
    pytest.param(1, ["statement", "body", "terms", "milestones", 0, "amount"], True, id="amount-bool"),
    pytest.param(1, ["statement", "body", "terms", "milestones", 0, "amount"], -1, id="amount-negative"),
    pytest.param(1, ["statement", "body", "terms", "milestones", 0, "amount"], "3000000", id="amount-string"),
    pytest.param(1, ["statement", "body", "terms", "milestones", 0, "due"], "31/03/2025", id="due-format"),
    pytest.param(1, ["statement", "body", "terms", "milestones", 0, "kind"], "service", id="milestone-kind"),
    pytest.param(1, ["statement", "body", "terms", "milestones", 1, "id"], "m1", id="milestone-duplicate"),
    pytest.param(1, ["statement", "body", "terms", "parties"], [], id="no-parties"),
    pytest.param(1, ["statement", "body", "terms"], None, id="terms-missing"),
    pytest.param(3, ["statement", "body", "milestone"], "m9", id="unknown-milestone"),
    pytest.param(3, ["statement", "body", "outcome"], "done", id="outcome-unknown"),
    pytest.param(3, ["statement", "body", "on"], "2025-03-32", id="on-invalid"),
    pytest.param(3, ["statement", "body", "amount"], 1.5, id="amount-float"),
    pytest.param(15, ["statement", "body", "kind"], "promise", id="commitment-kind"),
    pytest.param(15, ["statement", "body", "deadline"], None, id="deadline-missing"),
]


@pytest.mark.parametrize(("at", "path", "value"), BAD_BODIES)
def test_uninterpretable_body(at: int, path: list[str | int], value: Any) -> None:
    entries = mutate(path, value, at=at)
    _, subject = worked()
    with pytest.raises(FormatError):
        compute_history(subject, entries, as_of="2025-09-10")


def test_confirmation_without_report_is_refused() -> None:
    entries, subject = worked()
    # entry 6 confirms m1; make it confirm m3, which has no report yet at that point
    entries = mutate(["statement", "body", "milestone"], "m3", at=4)
    with pytest.raises(FormatError, match="no open report"):
        compute_history(subject, entries, as_of="2025-09-10")


def test_performance_on_a_withdrawn_contract_is_refused() -> None:
    # the consent (entry 4) turned into a withdrawal: m1's report then acts on a withdrawn contract
    entries = mutate(["statement", "type"], "contract.withdrawn", at=2)
    entries[2]["statement"]["actor"] = entries[1]["statement"]["actor"]
    _, subject = worked()
    with pytest.raises(FormatError, match="not registered"):
        compute_history(subject, entries, as_of="2025-09-10")


def test_clock_statement_about_unknown_contract_refused_for_parties() -> None:
    # milestone.overdue on a contract the subject's chain does not create: only the operator's own chain may
    entries = mutate(["statement", "aggregate"], "00000000-0000-4000-8000-000000000000", at=8)
    _, subject = worked()
    with pytest.raises(FormatError, match="proposal"):
        compute_history(subject, entries, as_of="2025-09-10")


def test_later_entry_of_a_hidden_aggregate_is_hidden_too() -> None:
    # the consent of C1 (entry 4) dated after as_of hides every later C1 entry even when dated before it
    entries = mutate(["statement", "time"], "2025-12-01T10:00:00Z", at=2)
    _, subject = worked()
    history = compute_history(subject, entries, as_of="2025-09-10")
    assert 4 not in history.entries
    assert 5 not in history.entries and 22 not in history.entries
    assert history.value("contracts.proposed") == 2
    assert history.value("milestones.on_time") == 0
    assert history.value("milestones.late") == 1


def test_contract_without_milestones_is_not_completed() -> None:
    entries = mutate(["statement", "body", "terms", "milestones"], [], at=5)  # proposal of C2, entry 7
    # C2's later statements name its milestones: keep the chain up to its consent only
    _, subject = worked()
    history = compute_history(subject, entries[:7], as_of="2025-09-10")
    assert history.value("contracts.registered") == 2
    assert history.value("contracts.completed") == 0
