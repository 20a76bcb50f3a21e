"""verifier.report.check_report against the known-answer report of docs/vectors/report.json, and what it refuses."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from verifier.errors import VerificationError
from verifier.note import Signer, signer_key_string
from verifier.report import ReportSummary, check_report

VECTOR = json.loads((Path(__file__).parents[2] / "docs" / "vectors" / "report.json").read_text("utf-8"))
KEY: str = VECTOR["log_key"]


def report() -> dict[str, Any]:
    return copy.deepcopy(VECTOR["report"])


def fails(r: Any, kind: str, key: str = KEY) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        check_report(r, key)
    assert caught.value.kind == kind, str(caught.value)
    return caught.value


def test_known_answer() -> None:
    summary = check_report(report(), KEY)
    assert isinstance(summary, ReportSummary)
    assert summary.to_dict() == VECTOR["summary"]
    assert (summary.score, summary.grade) == (775, "B")


def test_changed_figure() -> None:
    r = report()
    r["history"]["figures"]["arrears.amount"]["value"] = 0
    err = fails(r, "report")
    assert "arrears.amount" in str(err)
    assert (err.expected, err.found) == (3_000_000, 0)


def test_changed_figure_entries() -> None:
    r = report()
    r["history"]["figures"]["milestones.overdue_open"]["entries"] = []
    fails(r, "report")


def test_changed_factor_explanation() -> None:
    r = report()
    r["grade"]["factors"][6]["explanation"] = "no overdue open milestones: 0"
    fails(r, "report")


def test_entry_left_out_between() -> None:
    r = report()
    removed = r["entries"].pop(5)
    err = fails(r, "report")
    assert err.found == removed["index"]
    assert err.index == r["entries"][5]["index"]


def test_first_entry_left_out() -> None:
    r = report()
    del r["entries"][0]
    err = fails(r, "report")
    assert err.expected is None


def test_entries_reordered() -> None:
    r = report()
    r["entries"][3], r["entries"][4] = r["entries"][4], r["entries"][3]
    fails(r, "report")


def test_flipped_bit_in_an_entry() -> None:
    r = report()
    data = bytearray(base64.b64decode(r["entries"][2]["entry"]))
    at = data.index(b'"received":"') + 14
    data[at] ^= 0x01  # a digit of the year: still canonical JSON, another leaf
    r["entries"][2]["entry"] = base64.b64encode(bytes(data)).decode()
    err = fails(r, "inclusion")
    assert err.index == r["entries"][2]["index"]


def test_flipped_bit_in_a_proof() -> None:
    r = report()
    proof = bytearray(base64.b64decode(r["entries"][7]["proof"][0]))
    proof[0] ^= 0x80
    r["entries"][7]["proof"][0] = base64.b64encode(bytes(proof)).decode()
    fails(r, "inclusion")


def test_proof_of_wrong_length() -> None:
    r = report()
    r["entries"][1]["proof"] = r["entries"][1]["proof"][:-1]
    fails(r, "inclusion")


def test_proof_for_another_index() -> None:
    r = report()
    r["entries"][1]["proof"] = r["entries"][2]["proof"]
    fails(r, "inclusion")


def test_index_beyond_checkpoint() -> None:
    r = report()
    r["checkpoint"] = VECTOR["report"]["checkpoint"]
    r["entries"][-1]["index"] = 10_000
    fails(r, "report")  # the bytes say another index


def test_wrong_log_key() -> None:
    other = Signer.from_string(signer_key_string("credit.beichen.gov.cn/lvyue", bytes(range(32))))
    fails(report(), "checkpoint_signature", other.verifier_key())


def test_tampered_checkpoint() -> None:
    r = report()
    lines = r["checkpoint"].split("\n")
    lines[1] = str(int(lines[1]) + 1)
    r["checkpoint"] = "\n".join(lines)
    fails(r, "checkpoint_signature")


def test_entry_not_about_the_subject() -> None:
    r = report()
    r["subject"] = "91110108MA01K7Q2XN"
    fails(r, "report")


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("format", "lvyue-report/v0"),
        ("subject", 7),
        ("as_of", None),
        ("rules", []),
        ("history", "x"),
        ("grade", None),
        ("entries", {}),
        ("checkpoint", 1),
    ],
)
def test_wrong_types(member: str, value: Any) -> None:
    r = report()
    r[member] = value
    with pytest.raises(VerificationError) as caught:
        check_report(r, KEY)
    assert caught.value.kind in ("report", "malformed")


def test_not_an_object() -> None:
    fails([], "report")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["not base64!", 5, "QUJD"])
def test_undecodable_entry(bad: Any) -> None:
    r = report()
    r["entries"][0]["entry"] = bad
    fails(r, "malformed")


def test_bad_rules() -> None:
    r = report()
    r["rules"]["grade_a"] = 5000
    fails(r, "report")


def test_bad_as_of() -> None:
    r = report()
    r["as_of"] = "2025-02-30"
    fails(r, "report")
