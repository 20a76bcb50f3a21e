"""The bundle tamper tests again, with the entries checked on worker processes in chunks of three lines:
every failure is still the first in log order, with the same kind and index as in-process."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from types import ModuleType

import pytest

import tests.tamper.test_bundle_tamper as bundle_tamper
import tests.tamper.test_casework_tamper as casework_tamper
from tests.tamper.helpers import Built
from verifier.bundle import verify_bundle

CASES = [
    (module, name)
    for module in (bundle_tamper, casework_tamper)
    for name in sorted(vars(module))
    if name.startswith("test_")
]


@pytest.mark.parametrize(("module", "name"), CASES, ids=[name for _, name in CASES])
def test_same_outcome_on_workers(
    module: ModuleType, name: str, built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "verify_bundle", functools.partial(verify_bundle, workers=2, chunk=3))
    test = getattr(module, name)
    given = {"built": built, "tmp_path": tmp_path}
    test(**{p: given[p] for p in inspect.signature(test).parameters})
