"""Credit reports built from a real ledger verify, and fail when tampered with."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ledger.cli import cli
from ledger.errors import MalformedInput
from ledger.projections import Projections
from ledger.reports import build_report, render_html
from ledger.service import Ledger
from ledger.settings import Settings
from tests.projections.conftest import AS_OF, E_CODE, G_CODE, Scenario, build_scenario
from verifier.errors import VerificationError
from verifier.report import check_report


@pytest.fixture(scope="module")
def projections(scenario: Scenario, shared_settings: Settings) -> Iterator[Projections]:
    p = Projections.open(shared_settings, clock=lambda: AS_OF, ledger=scenario.ledger)
    p.run_once(scenario.ledger)
    yield p
    p.close()


@pytest.fixture(scope="module")
def report(scenario: Scenario, projections: Projections) -> dict[str, Any]:
    return build_report(scenario.ledger, projections, E_CODE)


def test_report_verifies(report: dict[str, Any], scenario: Scenario, projections: Projections) -> None:
    summary = check_report(report, scenario.ledger.verifier_key)
    assert (summary.subject, summary.as_of, summary.score, summary.grade) == (E_CODE, AS_OF, 785, "B")
    chain = projections.subject_entries(E_CODE)
    assert [e["index"] for e in report["entries"]] == chain
    assert (summary.first_index, summary.last_index, summary.entries) == (chain[0], chain[-1], len(chain))
    assert report["history"] == projections.history(E_CODE).to_dict()
    assert report["grade"] == projections.grade(E_CODE).to_dict()
    assert report["rules"] == projections.rules.to_mapping()
    assert summary.to_dict()["ok"] is True


def test_report_as_of_a_past_date(scenario: Scenario, projections: Projections) -> None:
    past = build_report(scenario.ledger, projections, E_CODE, "2025-04-15")
    summary = check_report(past, scenario.ledger.verifier_key)
    assert (summary.as_of, summary.score, summary.grade) == ("2025-04-15", 900, "A")
    gov = check_report(build_report(scenario.ledger, projections, G_CODE), scenario.ledger.verifier_key)
    assert (gov.score, gov.grade) == (775, "B")


def test_report_refuses_bad_input(scenario: Scenario, projections: Projections) -> None:
    with pytest.raises(MalformedInput):
        build_report(scenario.ledger, projections, "not a subject")
    with pytest.raises(MalformedInput):
        build_report(scenario.ledger, projections, E_CODE, "2025-13-01")


def test_changed_figure_fails(report: dict[str, Any], scenario: Scenario) -> None:
    forged = copy.deepcopy(report)
    forged["history"]["figures"]["milestones.late"]["value"] = 0
    with pytest.raises(VerificationError) as caught:
        check_report(forged, scenario.ledger.verifier_key)
    assert caught.value.kind == "report"
    assert "milestones.late" in str(caught.value)
    assert (caught.value.expected, caught.value.found) == (1, 0)


def test_changed_grade_fails(report: dict[str, Any], scenario: Scenario) -> None:
    forged = copy.deepcopy(report)
    forged["grade"]["grade"] = "A"
    with pytest.raises(VerificationError) as caught:
        check_report(forged, scenario.ledger.verifier_key)
    assert caught.value.kind == "report"


def test_changed_rules_fail(report: dict[str, Any], scenario: Scenario) -> None:
    forged = copy.deepcopy(report)
    forged["rules"]["broken_penalty"] = 0
    with pytest.raises(VerificationError) as caught:
        check_report(forged, scenario.ledger.verifier_key)
    assert caught.value.kind == "report"


def test_left_out_entry_fails(report: dict[str, Any], scenario: Scenario) -> None:
    broken = scenario.marks["k2_broken"]
    forged = copy.deepcopy(report)
    forged["entries"] = [e for e in forged["entries"] if e["index"] != broken]
    with pytest.raises(VerificationError) as caught:
        check_report(forged, scenario.ledger.verifier_key)
    assert caught.value.kind == "report"
    chain = [e["index"] for e in report["entries"]]
    assert (caught.value.expected, caught.value.found) == (chain[chain.index(broken) - 1], broken)
    assert "left out" in str(caught.value)


def test_first_entries_left_out_fail(report: dict[str, Any], scenario: Scenario) -> None:
    forged = copy.deepcopy(report)
    forged["entries"] = forged["entries"][3:]
    with pytest.raises(VerificationError) as caught:
        check_report(forged, scenario.ledger.verifier_key)
    assert caught.value.kind == "report"


def test_proof_from_another_log_fails(report: dict[str, Any], tmp_path: Path) -> None:
    other_settings = Settings(data_dir=tmp_path / "other", origin="test.lvyue.example/log")
    other = Ledger.open(other_settings)
    try:
        build_scenario(other)
        other.checkpoint()
        key = json.loads(json.dumps(report))["log_key"]
        forged = copy.deepcopy(report)
        target = forged["entries"][4]
        target["proof"] = [base64.b64encode(h).decode() for h in other.prove_inclusion(target["index"], other.size())]
        with pytest.raises(VerificationError) as caught:
            check_report(forged, key)
        assert (caught.value.kind, caught.value.index) == ("inclusion", target["index"])
        # the other log's entry and proof, against this log's checkpoint
        forged = copy.deepcopy(report)
        target = forged["entries"][4]
        target["entry"] = base64.b64encode(other.entry(target["index"])).decode()
        target["proof"] = [base64.b64encode(h).decode() for h in other.prove_inclusion(target["index"], other.size())]
        with pytest.raises(VerificationError) as caught:
            check_report(forged, key)
        assert caught.value.kind == "inclusion"
        # this report against the other log's key
        with pytest.raises(VerificationError) as caught:
            check_report(report, other.verifier_key)
        assert caught.value.kind == "checkpoint_signature"
    finally:
        other.close()


def test_html(report: dict[str, Any]) -> None:
    page = render_html(report)
    assert "Noto Sans CJK SC" in page
    assert "<svg" in page and "按期履约" in page
    assert "信用报告" in page and E_CODE in page
    assert "785" in page


def test_cli_report_grade_indicators_rebuild(
    scenario: Scenario, shared_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LVYUE_DATA_DIR", str(shared_settings.data_dir))
    monkeypatch.setenv("LVYUE_ORIGIN", shared_settings.origin)
    if shared_settings.database_url:
        monkeypatch.setenv("LVYUE_DATABASE_URL", shared_settings.database_url)
    else:
        monkeypatch.delenv("LVYUE_DATABASE_URL", raising=False)
    monkeypatch.delenv("LVYUE_GRADING_RULES", raising=False)
    runner = CliRunner()
    out, html = tmp_path / "r.json", tmp_path / "r.html"
    result = runner.invoke(cli, ["report", G_CODE, "--out", str(out), "--html", str(html), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    summary = check_report(json.loads(out.read_text("utf-8")), scenario.ledger.verifier_key)
    assert (summary.score, summary.grade) == (775, "B")
    assert "拖欠账款" in html.read_text("utf-8")
    result = runner.invoke(cli, ["grade", E_CODE, "--as-of", AS_OF, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["score"] == 785
    result = runner.invoke(cli, ["indicators", "--json", "--by", "type"])
    assert result.exit_code == 0, result.output
    assert {r["contract_type"] for r in json.loads(result.output)} == {"", "government_procurement"}
    result = runner.invoke(cli, ["indicators"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["rebuild"])
    assert result.exit_code == 0, result.output
