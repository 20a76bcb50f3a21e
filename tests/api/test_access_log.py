"""The access log: one JSON line per logged request, kept across log rotation."""

from __future__ import annotations

import json
from pathlib import Path

from api.access import AccessLog


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_lines_are_written_through_and_survive_rotation(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "access-log.jsonl"
    log = AccessLog(path)
    log.record("auditor", "GET", "/check?codes=X", "127.0.0.1")
    assert [r["target"] for r in _lines(path)] == ["/check?codes=X"]  # on disk before close
    rotated = path.with_name("access-log.jsonl.1")
    path.rename(rotated)
    log.record("operator", "POST", "/desk/subjects", None)
    path.unlink(missing_ok=True)
    log.record("auditor", "GET", "/log/export", "10.0.0.2")
    log.close()
    assert [r["role"] for r in _lines(rotated)] == ["auditor"]
    assert [(r["role"], r["target"], r["client"]) for r in _lines(path)] == [("auditor", "/log/export", "10.0.0.2")]
    assert [r["role"] for r in log.recent] == ["auditor", "operator", "auditor"]
