"""The README's tour runs as written (on a small demo ledger in a temporary directory)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tour() -> list[str]:
    text = (ROOT / "README.md").read_text("utf-8")
    block = re.search(r"## A tour from the command line\n\n```sh\n(.*?)```", text, re.S)
    assert block, "README has a tour block"
    commands = []
    for line in block.group(1).splitlines():
        command = line.split("  #")[0].strip()
        if command.startswith(".venv/bin/"):
            commands.append(command.replace(".venv/bin/", f"{BIN}/"))
    return commands


def test_readme_opens_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text("utf-8").splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```")]
    assert [line.split()[0:2] for line in block] == [["make", "demo"], ["make", "test"]]


def test_the_tour_runs(tmp_path: Path, database_url: str | None) -> None:
    env = dict(os.environ, LVYUE_DATA_DIR=str(tmp_path / "data"))
    env.pop("LVYUE_DATABASE_URL", None)
    if database_url:
        env["LVYUE_DATABASE_URL"] = database_url
    subprocess.run(
        [f"{BIN}/lvyue", "demo", "--contracts", "20"], env=env, cwd=tmp_path, check=True, capture_output=True
    )
    commands = _tour()
    assert len(commands) >= 6
    for command in commands:
        done = subprocess.run(command, shell=True, env=env, cwd=tmp_path, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"{command!r} exited {done.returncode}: {done.stderr or done.stdout}")
    assert (tmp_path / "demo.jsonl").stat().st_size > 0
