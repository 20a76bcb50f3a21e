"""Objections and repairs refer to earlier entries: a forged reference is caught, both when the verifier keeps
earlier entries in memory and when it reads them back from the bundle file (lvyue-verify bundle)."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from tests.tamper.helpers import Built, as_bundle, write
from verifier.bundle import verify_bundle
from verifier.cli import main
from verifier.entry import encode_entry
from verifier.errors import VerificationError
from verifier.hashing import entry_hash
from verifier.replay import RuleFailure
from verifier.statement import make_statement, sign_statement


def _with_objection_to(built: Built, referenced: int) -> tuple[list[bytes], int]:
    """The bundle with one more entry: subject a objecting to entry ``referenced``."""
    lines = list(built.lines)
    positions = [i for i, line in enumerate(lines) if line.startswith(b'{"index":')]
    last = orjson.loads(lines[positions[-1]])
    a = built.keys["a"]
    origin = last["statement"]["origin"]
    statement = make_statement(
        "objection.filed",
        origin,
        a.subject,
        a.key_id,
        str(uuid.uuid4()),
        1,
        last["statement"]["time"],
        {"entry": referenced, "reason": "该记录与本单位无关"},
    )
    index = last["index"] + 1
    data = encode_entry(
        index,
        entry_hash(lines[positions[-1]]),
        {a.subject: None},
        statement,
        [sign_statement(statement, a.subject, a.seed)],
        last["received"],
    )
    lines.insert(positions[-1] + 1, data)
    return lines, index


def test_objection_to_an_entry_about_someone_else(built: Built, tmp_path: Path) -> None:
    lines, index = _with_objection_to(built, 0)
    with pytest.raises(VerificationError) as info:
        verify_bundle(as_bundle(lines), built.verifier_key)
    assert isinstance(info.value, RuleFailure)
    assert (info.value.index, info.value.code) == (index, "not_concerned")
    # The command line reads the referenced entry back from the file instead of keeping it in memory.
    result = CliRunner().invoke(
        main, ["bundle", str(write(tmp_path / "b.jsonl", lines)), "--log-key", built.verifier_key, "--json"]
    )
    assert result.exit_code == 1
    report = orjson.loads(result.output)
    assert (report["index"], report["kind"], report["code"]) == (index, "rule", "not_concerned")


def test_objection_to_an_entry_not_yet_in_the_log(built: Built) -> None:
    lines, index = _with_objection_to(built, 10_000)
    with pytest.raises(VerificationError) as info:
        verify_bundle(as_bundle(lines), built.verifier_key)
    assert isinstance(info.value, RuleFailure)
    assert (info.value.index, info.value.code) == (index, "bad_reference")
