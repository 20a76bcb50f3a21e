"""docs/vectors/casework.json: figures after corrections and repairs, recomputed by verifier.history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verifier.errors import FormatError
from verifier.history import compute_history

VECTOR = json.loads((Path(__file__).parents[2] / "docs" / "vectors" / "casework.json").read_text("utf-8"))


def chain(subject: str) -> list[dict[str, Any]]:
    return [e for e in VECTOR["log"] if subject in e["links"]]


@pytest.mark.parametrize("check", VECTOR["checks"], ids=lambda c: f"{c['subject'][:4]}-{c['as_of']}")
def test_vector(check: dict[str, Any]) -> None:
    got = compute_history(check["subject"], chain(check["subject"]), as_of=check["as_of"]).to_dict()["figures"]
    for key, expected in check["figures"].items():
        assert got.get(key) == expected, key
    for key in check["absent"]:
        assert key not in got, key


def test_bad_entry_reference_and_unknown_case() -> None:
    subject = VECTOR["checks"][0]["subject"]
    entries = json.loads(json.dumps(chain(subject)))
    entries[5]["statement"]["body"]["entry"] = "2"
    with pytest.raises(FormatError):
        compute_history(subject, entries, as_of="2025-12-31")
    entries = json.loads(json.dumps(chain(subject)))
    entries[6]["statement"]["aggregate"] = "00000000-0000-4000-8000-0000000000ff"  # upheld without its filing
    with pytest.raises(FormatError):
        compute_history(subject, entries, as_of="2025-12-31")
