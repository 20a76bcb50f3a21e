"""The operator's grading rules: a TOML or JSON file, read with verifier.grading.GradingRules.from_mapping.

Where: the file named by LVYUE_GRADING_RULES, else ``grading.toml`` or ``grading.json`` in the data directory,
else the defaults of docs/grading.md.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

from ledger.errors import MalformedInput
from ledger.settings import Settings
from verifier.errors import FormatError
from verifier.grading import DEFAULT_RULES, GradingRules

__all__ = ["load_grading_rules", "rules_path"]

ENV = "LVYUE_GRADING_RULES"


def rules_path(settings: Settings) -> Path | None:
    """The grading rules file in force for ``settings``, or None when the defaults apply.

    Raises:
        MalformedInput: LVYUE_GRADING_RULES names a file that does not exist.
    """
    named = os.environ.get(ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise MalformedInput(f"{ENV} names no file: {path}", code="grading_rules")
        return path
    for name in ("grading.toml", "grading.json"):
        path = settings.data_dir / name
        if path.is_file():
            return path
    return None


def load_grading_rules(settings: Settings) -> GradingRules:
    """The operator's grading rules (docs/grading.md, "Configuration"), or the defaults.

    Raises:
        MalformedInput: the file is not TOML/JSON, or GradingRules refuses it (unknown rule, value that is not an
            integer in range, thresholds that do not descend); ``code`` is ``grading_rules``.
    """
    path = rules_path(settings)
    if path is None:
        return DEFAULT_RULES
    text = path.read_text("utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        return GradingRules.from_mapping(data)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, FormatError) as e:
        raise MalformedInput(f"grading rules {path}: {e}", code="grading_rules") from e
