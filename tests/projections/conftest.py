"""A hand-worked scenario on a real ledger, shared read-only by a module, and a builder for fresh ledgers.

Enterprise E and the district bureau G (a ``government`` subject) sign two contracts; E makes two commitments
to the registration authority. Statement times are set in 2025 so that ``as_of`` dates give hand-worked
figures (docs/grading.md):

    C1 (proposed by G 2025-01-10, registered 2025-01-12)
      m1 E->G delivery 2025-03-31 3 000 000: reported fulfilled 03-28, confirmed     -> E on_time
      m2 G->E payment  2025-04-30 3 000 000: nothing                                 -> G overdue_open (arrears)
      m3 E->G delivery 2025-06-30 2 000 000: partial 1 000 000, disputed, resolved
                                             partial 1 500 000 on 07-10              -> E partial
    C2 (proposed by E 2025-04-01, registered 2025-04-02)
      n1 E->G delivery 2025-05-15 1 000 000: flagged overdue 05-20, performed 06-01  -> E late
      n2 G->E payment  2025-06-15 1 000 000: paid 06-14, confirmed                   -> G on_time
    K1 approval_substitute by E, deadline 2025-06-30, kept 06-20
    K2 deficiency_acceptance by E, deadline 2025-05-31, broken 06-05
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

from ledger.client import KeyFile
from ledger.parties import Party, operator
from ledger.service import Ledger
from ledger.settings import Settings
from verifier.identity import make_credit_code, subject_aggregate
from verifier.statement import b64encode, terms_digest

AS_OF = "2025-09-10"
E_CODE = make_credit_code("91110108MA01K7Q2X")
G_CODE = make_credit_code("11110108MB0000037")
EVIDENCE = "ab" * 32


@dataclass
class Scenario:
    """The parties and aggregates of the scenario, with the indexes of notable entries."""

    ledger: Ledger
    e: Party
    g: Party
    c1: str
    c2: str
    k1: str
    k2: str
    marks: dict[str, int]


def _t(day: str) -> str:
    return f"{day}T02:00:00Z"


def _ms(mid: str, obligor: str, obligee: str, due: str, kind: str, amount: int) -> dict[str, object]:
    return {
        "id": mid,
        "obligor": obligor,
        "obligee": obligee,
        "due": due,
        "kind": kind,
        "amount": amount,
        "description": f"{mid} 履约事项",
    }


def _terms(
    number: str, parties: list[tuple[str, str]], amount: int, milestones: list[dict[str, object]]
) -> dict[str, object]:
    return {
        "type": "government_procurement",
        "number": number,
        "title": "教育装备采购",
        "parties": [{"subject": s, "role": r} for s, r in parties],
        "amount": amount,
        "currency": "CNY",
        "signed_on": "2025-01-10",
        "starts_on": "2025-01-10",
        "ends_on": "2025-12-31",
        "document_sha256": EVIDENCE,
        "disclose_amount": True,
        "milestones": milestones,
    }


def register_at(authority: Party, subject: str, kind: str, name: str, day: str) -> Party:
    """Register ``subject`` and bind a new key to it at the desk, with statements dated ``day``."""
    key = KeyFile.generate(subject)
    aggregate = subject_aggregate(subject)
    authority.submit("subject.registered", aggregate, {"subject": subject, "kind": kind, "name": name}, time=_t(day))
    body = {"subject": subject, "key_id": key.key_id, "public_key": b64encode(key.public_key), "algorithm": "ed25519"}
    authority.submit("key.bound", aggregate, body, time=_t(day))
    return Party(authority.ledger, key)


def build_scenario(ledger: Ledger, after: Callable[[], None] = lambda: None) -> Scenario:
    """Write the scenario into ``ledger``, calling ``after()`` after every statement."""
    marks: dict[str, int] = {}

    def note(name: str, receipt: dict[str, object]) -> None:
        marks[name] = int(receipt["index"])  # type: ignore[call-overload]
        after()

    authority = Party(ledger, ledger.platform.authority)
    e = register_at(authority, E_CODE, "enterprise", "北辰教育科技有限公司", "2025-01-02")
    after()
    g = register_at(authority, G_CODE, "government", "北辰区教育局", "2025-01-02")
    after()
    op = operator(ledger)

    c1 = str(uuid.uuid4())
    t1 = _terms(
        "BC-2025-001",
        [(G_CODE, "buyer"), (E_CODE, "supplier")],
        5_000_000,
        [
            _ms("m1", E_CODE, G_CODE, "2025-03-31", "delivery", 3_000_000),
            _ms("m2", G_CODE, E_CODE, "2025-04-30", "payment", 3_000_000),
            _ms("m3", E_CODE, G_CODE, "2025-06-30", "delivery", 2_000_000),
        ],
    )
    d1 = terms_digest(t1)
    note("c1_proposed", g.submit("contract.proposed", c1, {"terms": t1, "terms_digest": d1}, time=_t("2025-01-10")))
    note("c1_registered", e.submit("contract.consented", c1, {"terms_digest": d1}, time=_t("2025-01-12")))
    report = {"outcome": "fulfilled", "on": "2025-03-28", "amount": 3_000_000, "evidence_sha256": EVIDENCE}
    note("m1_reported", e.submit("performance.reported", c1, {"milestone": "m1", **report}, time=_t("2025-03-29")))
    note("m1_confirmed", g.submit("performance.confirmed", c1, {"milestone": "m1"}, time=_t("2025-03-30")))

    c2 = str(uuid.uuid4())
    t2 = _terms(
        "BC-2025-002",
        [(E_CODE, "supplier"), (G_CODE, "buyer")],
        1_000_000,
        [
            _ms("n1", E_CODE, G_CODE, "2025-05-15", "delivery", 1_000_000),
            _ms("n2", G_CODE, E_CODE, "2025-06-15", "payment", 1_000_000),
        ],
    )
    d2 = terms_digest(t2)
    note("c2_proposed", e.submit("contract.proposed", c2, {"terms": t2, "terms_digest": d2}, time=_t("2025-04-01")))
    note("c2_registered", g.submit("contract.consented", c2, {"terms_digest": d2}, time=_t("2025-04-02")))

    k1 = str(uuid.uuid4())
    k2 = str(uuid.uuid4())
    made = {"authority": ledger.authority, "content": "承诺按期补齐材料", "related": None}
    note(
        "k1_made",
        e.submit(
            "commitment.made",
            k1,
            {"kind": "approval_substitute", "made_on": "2025-04-10", "deadline": "2025-06-30", **made},
            time=_t("2025-04-10"),
        ),
    )
    note(
        "k2_made",
        e.submit(
            "commitment.made",
            k2,
            {"kind": "deficiency_acceptance", "made_on": "2025-04-11", "deadline": "2025-05-31", **made},
            time=_t("2025-04-11"),
        ),
    )
    note(
        "n1_overdue",
        op.submit("milestone.overdue", c2, {"milestone": "n1", "as_of": "2025-05-20"}, time=_t("2025-05-20")),
    )
    report = {"outcome": "fulfilled", "on": "2025-06-01", "amount": 1_000_000, "evidence_sha256": EVIDENCE}
    note("n1_reported", e.submit("performance.reported", c2, {"milestone": "n1", **report}, time=_t("2025-06-02")))
    note("n1_confirmed", g.submit("performance.confirmed", c2, {"milestone": "n1"}, time=_t("2025-06-03")))
    note(
        "k2_broken",
        authority.submit("commitment.broken", k2, {"on": "2025-06-05", "reason": "未按期补齐"}, time=_t("2025-06-05")),
    )
    report = {"outcome": "fulfilled", "on": "2025-06-14", "amount": 1_000_000, "evidence_sha256": EVIDENCE}
    note("n2_reported", g.submit("performance.reported", c2, {"milestone": "n2", **report}, time=_t("2025-06-14")))
    note("n2_confirmed", e.submit("performance.confirmed", c2, {"milestone": "n2"}, time=_t("2025-06-15")))
    note(
        "k1_kept",
        authority.submit(
            "commitment.kept", k1, {"on": "2025-06-20", "evidence_sha256": EVIDENCE}, time=_t("2025-06-20")
        ),
    )
    report = {"outcome": "partial", "on": "2025-06-29", "amount": 1_000_000, "evidence_sha256": EVIDENCE}
    note("m3_reported", e.submit("performance.reported", c1, {"milestone": "m3", **report}, time=_t("2025-06-30")))
    note(
        "m3_disputed",
        g.submit("performance.disputed", c1, {"milestone": "m3", "reason": "数量不足"}, time=_t("2025-07-01")),
    )
    resolved = {"milestone": "m3", "outcome": "partial", "on": "2025-07-10", "amount": 1_500_000}
    note("m3_resolved", e.submit("dispute.resolved", c1, resolved, cosigners=[g], time=_t("2025-07-10")))
    return Scenario(ledger, e, g, c1, c2, k1, k2, marks)


def _database(base: str | None) -> Iterator[str | None]:
    if not base:
        yield None
        return
    import psycopg

    name = f"lvyue_p_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield urlunparse(urlparse(base)._replace(path=f"/{name}"))
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def shared_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of a module-wide store (its own PostgreSQL database when LVYUE_DATABASE_URL is set)."""
    path: Path = tmp_path_factory.mktemp("proj")
    for url in _database(os.environ.get("LVYUE_DATABASE_URL")):
        yield Settings(data_dir=path / "data", database_url=url, origin="test.lvyue.example/log")


@pytest.fixture(scope="module")
def scenario(shared_settings: Settings) -> Iterator[Scenario]:
    """The scenario on a module-wide ledger (tests only read it)."""
    ledger = Ledger.open(shared_settings)
    try:
        yield build_scenario(ledger)
    finally:
        ledger.close()
