"""Credit report verification: a report in, a summary out, or the first thing wrong with it.

A credit report (docs/reports.md, "Report format") carries a subject's entries, each with its inclusion proof
against a signed checkpoint, and the figures and grade computed from them. ``check_report`` verifies the
checkpoint's log signature, every inclusion proof, that every entry concerns the subject and that together they
are the subject's chain from its first entry to the last shown (no entry left out between), then recomputes
every figure and the grade with verifier.history and verifier.grading and requires the report's to be equal.

What it cannot show: that no entry about the subject follows the last one shown within the checkpoint (a
report may stop early). The report's ``as_of`` bounds what counts; a reader who needs the newest state asks the
log for the subject's latest entry and a fresh report.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from verifier.checkpoint import verify_checkpoint
from verifier.entry import parse_entry
from verifier.errors import FormatError, ProofError, VerificationError
from verifier.grading import GradingRules, grade
from verifier.hashing import leaf_hash
from verifier.history import compute_history
from verifier.merkle import check_inclusion

__all__ = ["REPORT_FORMAT", "ReportSummary", "check_report"]

REPORT_FORMAT = "lvyue-report/v1"
MAX_ENTRIES = 1_000_000


@dataclass(frozen=True)
class ReportSummary:
    """What a verified report says: whose, as of when, against which checkpoint, with what result."""

    subject: str
    as_of: str
    origin: str
    checkpoint_size: int
    entries: int
    first_index: int | None
    last_index: int | None
    score: int
    grade: str

    def to_dict(self) -> dict[str, Any]:
        """The summary as a JSON-ready object (``--json`` output), with ``"ok": true``."""
        return {
            "ok": True,
            "subject": self.subject,
            "as_of": self.as_of,
            "origin": self.origin,
            "checkpoint_size": self.checkpoint_size,
            "entries": self.entries,
            "first_index": self.first_index,
            "last_index": self.last_index,
            "score": self.score,
            "grade": self.grade,
        }


def _bad(message: str, *, index: int | None = None, expected: Any = None, found: Any = None) -> VerificationError:
    return VerificationError("report", message, index=index, expected=expected, found=found)


def _b64(value: Any, what: str, index: int | None) -> bytes:
    if not isinstance(value, str):
        raise VerificationError("malformed", f"{what} is not a base64 string", index=index)
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise VerificationError("malformed", f"{what} is not valid base64: {e}", index=index) from e
    if base64.b64encode(data).decode("ascii") != value:
        raise VerificationError("malformed", f"{what} is not canonical base64", index=index)
    return data


def _member(report: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = report.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _bad(f"report member {key!r} is missing or of the wrong type")
    return value


def _first_difference(expected: Any, found: Any, path: str = "") -> tuple[str, Any, Any]:
    """The first path at which two JSON values differ, with both values there."""
    if isinstance(expected, Mapping) and isinstance(found, Mapping):
        for key in sorted(set(expected) | set(found), key=str):
            if key not in found:
                return f"{path}.{key}", expected[key], None
            if key not in expected:
                return f"{path}.{key}", None, found[key]
            if expected[key] != found[key]:
                return _first_difference(expected[key], found[key], f"{path}.{key}")
    if isinstance(expected, list) and isinstance(found, list) and len(expected) == len(found):
        for n, (a, b) in enumerate(zip(expected, found, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{path}[{n}]")
    return path or "$", expected, found


def check_report(report: Mapping[str, Any], log_verifier_key: str) -> ReportSummary:
    """Verify a credit report against the log's verifier key; return its summary.

    Checks, in order: the report's shape; the checkpoint's log signature; each entry (canonical bytes, index as
    stated and below the checkpoint size, concerning the subject) and its inclusion proof; that the entries are
    the subject's chain from its first entry (``links[subject]`` null) with none left out between the first
    and the last shown; then that the figures and the grade recompute, under the report's grading rules, to
    exactly the report's.

    Raises:
        VerificationError: ``kind="checkpoint_signature"`` (or ``"origin"``, ``"malformed"``) when the
            checkpoint does not verify with ``log_verifier_key``; ``kind="inclusion"`` with the entry's index
            when a proof does not lead to the checkpoint's root (for example a proof from another log);
            ``kind="malformed"`` for an entry or proof that cannot be decoded; ``kind="report"`` when the
            report's shape is wrong, an entry does not concern the subject, an entry is left out or out of
            order, or a figure or the grade does not recompute (``expected`` the recomputed value, ``found``
            the report's).
    """
    if not isinstance(report, Mapping):
        raise _bad("a report is a JSON object")
    if report.get("format") != REPORT_FORMAT:
        raise _bad(f"report format is not {REPORT_FORMAT}", expected=REPORT_FORMAT, found=report.get("format"))
    subject = _member(report, "subject", str)
    as_of = _member(report, "as_of", str)
    rules_map = _member(report, "rules", Mapping)
    claimed_history = _member(report, "history", Mapping)
    claimed_grade = _member(report, "grade", Mapping)
    note = _member(report, "checkpoint", str)
    items = _member(report, "entries", list)
    if len(items) > MAX_ENTRIES:
        raise _bad(f"report carries more than {MAX_ENTRIES} entries")

    signed = verify_checkpoint(note, log_verifier_key)
    size = signed.checkpoint.size
    root = signed.checkpoint.root

    entries: list[Any] = []
    previous: int | None = None
    for n, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise _bad(f"report entry {n} is not an object")
        index = item.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise _bad(f"report entry {n} has no valid index", found=index)
        data = _b64(item.get("entry"), f"entry {index}", index)
        proof_items = item.get("proof")
        if not isinstance(proof_items, list):
            raise VerificationError("malformed", f"entry {index}: proof is not an array", index=index)
        proof: Sequence[bytes] = [_b64(h, f"entry {index} proof hash", index) for h in proof_items]
        try:
            entry = parse_entry(data)
        except FormatError as e:
            raise VerificationError("malformed", f"entry {index}: {e}", index=index) from e
        if entry.index != index:
            raise _bad(
                f"entry bytes carry index {entry.index}, not {index}", index=index, expected=index, found=entry.index
            )
        if index >= size:
            raise VerificationError(
                "inclusion", f"entry {index} is beyond the checkpoint's size {size}", index=index, expected=size
            )
        try:
            check_inclusion(proof, size, root, index, leaf_hash(data))
        except ProofError as e:
            raise VerificationError("inclusion", f"entry {index}: {e}", index=index) from e
        if subject not in entry.links:
            raise _bad(f"entry {index} does not concern {subject}", index=index)
        link = entry.links[subject]
        if link != previous:
            if previous is None:
                raise _bad(
                    f"the first entry shown ({index}) is not {subject}'s first: it links to entry {link}",
                    index=index,
                    expected=None,
                    found=link,
                )
            raise _bad(
                f"entry {index} links to {link}, but the entry shown before it is {previous}: "
                f"entries about {subject} are left out or out of order",
                index=index,
                expected=previous,
                found=link,
            )
        previous = index
        entries.append(orjson.loads(data))

    try:
        rules = GradingRules.from_mapping(rules_map)
        history = compute_history(subject, entries, as_of=as_of)
        graded = grade(history, rules)
    except FormatError as e:
        raise _bad(f"the figures cannot be recomputed: {e}") from e

    recomputed_history = history.to_dict()
    try:
        claimed_history = orjson.loads(orjson.dumps(dict(claimed_history)))
        claimed_grade = orjson.loads(orjson.dumps(dict(claimed_grade)))
    except TypeError as e:
        raise _bad(f"the report's history or grade is not JSON: {e}") from e
    if recomputed_history != claimed_history:
        where, want, got = _first_difference(recomputed_history, claimed_history)
        raise _bad(
            f"history{where} does not recompute: {want!r} from the entries, {got!r} in the report",
            expected=want,
            found=got,
        )
    recomputed_grade = graded.to_dict()
    if recomputed_grade != claimed_grade:
        where, want, got = _first_difference(recomputed_grade, claimed_grade)
        raise _bad(
            f"grade{where} does not recompute: {want!r} from the entries, {got!r} in the report",
            expected=want,
            found=got,
        )

    indexes = [e["index"] for e in entries]
    return ReportSummary(
        subject=subject,
        as_of=as_of,
        origin=signed.checkpoint.origin,
        checkpoint_size=size,
        entries=len(entries),
        first_index=indexes[0] if indexes else None,
        last_index=indexes[-1] if indexes else None,
        score=graded.score,
        grade=graded.grade,
    )
