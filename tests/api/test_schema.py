"""Schemathesis over the served OpenAPI: no 5xx, documented statuses and content types, conforming bodies."""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ledger.parties import Party
from tests.api.conftest import registered_contract

MAX_EXAMPLES = 12


def test_openapi_conformance(app: FastAPI, buyer: Party, supplier: Party) -> None:
    registered_contract(buyer, supplier)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            # A schema cannot say which statements are signed and legal: generated ones are rightly refused.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            run()
        except Exception as e:
            failures.append(f"{operation.label}: {e}")
    assert operations >= 20
    assert failures == []
