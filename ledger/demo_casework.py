"""Demo casework on top of the demo story: judgments (applied, linked from the review queue, waiting in it, a
refused row), objections and repairs in each state, the publicity clock, a follower's subscription and persons
registered through the encrypted identity store. Everything here happens today (statements carry the current
time), after the story."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from ledger.client import KeyFile
from ledger.errors import LedgerError
from ledger.judgments import import_judgments, link_judgment, negative_records, review_queue
from ledger.objections import decide_objection, file_objection
from ledger.parties import Party
from ledger.privacy import register_person
from ledger.push.subscriptions import follow
from ledger.repair import apply_for_repair, decide_repair, expire_publicity
from ledger.service import Ledger
from verifier.identity import make_citizen_id, pseudonym
from verifier.rules import ContractState

__all__ = ["add_casework"]

COURTS = ("天津市北辰区人民法院", "天津市第一中级人民法院", "天津仲裁委员会")
PERSONS = ("赵立新", "钱文静")


def _keys(subjects: Any) -> dict[str, KeyFile]:
    groups: Iterable[Any] = subjects.values() if isinstance(subjects, Mapping) else [subjects]
    out: dict[str, KeyFile] = {}
    for group in groups:
        for s in group:
            key: KeyFile = s.key if hasattr(s, "key") else s
            out[key.subject] = key
    return out


def _registered_contracts(ledger: Ledger) -> list[tuple[str, ContractState]]:
    out = []
    for _, data in ledger.entries(0, ledger.size()):
        if b'"type":"contract.proposed"' not in data:
            continue
        cid = orjson.loads(data)["statement"]["aggregate"]
        state = ledger.aggregate(cid)[1]
        if isinstance(state, ContractState) and state.status == "registered" and not state.completed:
            out.append((cid, state))
    return out


def add_casework(ledger: Ledger, rng: random.Random, subjects: Mapping[str, Sequence[Any]]) -> list[str]:
    """Add the casework demo to ``ledger`` whose demo subjects (with their keys) are ``subjects`` (the demo's
    groups of objects with a ``key``, or lists of KeyFiles); return lines describing what was added."""
    keys = {s: k for s, k in _keys(subjects).items() if (row := ledger.store.key(s, k.key_id)) and row[2] is None}
    lines = []

    # Persons through the identity store.
    persons = []
    for i, name in enumerate(PERSONS):
        birth = date(1985 + i, 3 + i, 12 + i)
        id_number = make_citizen_id(f"120113{birth:%Y%m%d}{300 + rng.randrange(600):03d}")
        try:
            key = KeyFile.generate(pseudonym(ledger.platform.pseudonym_key, id_number))
            persons.append(register_person(ledger, name, id_number, key=key))
        except LedgerError:
            continue
    lines.append(f"persons in the identity store: {len(persons)}")

    # Judgments: applied (matched by number), linked from the review queue, left in review, one refused row.
    contracts = _registered_contracts(ledger)
    rng.shuffle(contracts)
    today = (datetime.now(UTC) + timedelta(hours=8)).date()
    rows: list[dict[str, Any]] = []
    for n, (cid, state) in enumerate(contracts[:4]):
        open_ms = [m for m in state.milestones.values() if not m.settled]
        m = open_ms[0] if open_ms else None
        rows.append(
            {
                "court": COURTS[n % len(COURTS)],
                "case_number": f"({today.year})津0113民初{1000 + rng.randrange(9000)}号",
                "kind": "award" if n == 2 else "judgment",
                "decided_on": (today - timedelta(days=3)).isoformat(),
                "parties": ";".join(state.parties),
                "contract_number": str(state.terms["number"]) if n in (0, 2) else f"无法识别-{n}",
                "summary_sha256": hashlib.sha256(f"judgment {cid}".encode()).hexdigest(),
                "effect": "breach" if m is not None and n == 0 else "none",
                "party": m.obligor if m is not None and n == 0 else "",
                "milestone": m.id if m is not None and n == 0 else "",
                "outcome": "failed" if m is not None and n == 0 else "",
            }
        )
    rows.append({"court": COURTS[0], "case_number": "(2025)津0113民初1号", "decided_on": "2025-02-30", "parties": ""})
    report = import_judgments(ledger, rows)
    queue = review_queue(ledger)
    if len(queue) >= 2:
        link_judgment(ledger, queue[0]["aggregate"], contracts[1][0])
    totals = report.to_dict()["totals"]
    lines.append("judgments: " + ", ".join(f"{k} {v}" for k, v in totals.items()))

    # Objections: upheld, rejected, pending.
    records = [r for r in negative_records(ledger) if r["subject"] in keys]
    rng.shuffle(records)
    states = ("upheld", "rejected", "filed")
    objected = set()
    for want, record in zip(states, records[:3], strict=False):
        party = Party(ledger, keys[record["subject"]])
        try:
            oid, _ = file_objection(party, record["entry"], "记录与实际履约情况不符，已提交补充证明材料")
            objected.add(record["entry"])
            if want == "upheld":
                decide_objection(
                    ledger,
                    oid,
                    upheld=True,
                    reason="经核查异议成立",
                    correction="该逾期记录系对方未及时确认所致，予以更正",
                )
            elif want == "rejected":
                decide_objection(ledger, oid, upheld=False, reason="经核查异议不成立")
        except LedgerError:
            continue
    lines.append(f"objections: {len(objected)}")

    # Repairs: approved, rejected, pending; each with a credit-repair commitment.
    authority = ledger.operator
    repaired = 0
    for want, record in zip(("approved", "rejected", "applied"), records[3:6], strict=False):
        party = Party(ledger, keys[record["subject"]])
        commitment = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        body = {
            "kind": "credit_repair",
            "authority": authority,
            "content": "已履行相关义务，承诺今后依法诚信经营，如有违反自愿接受约束和惩戒",
            "made_on": today.isoformat(),
            "deadline": (today + timedelta(days=365)).isoformat(),
            "related": record["entry"],
        }
        try:
            party.submit("commitment.made", commitment, body)
            rid, _ = apply_for_repair(party, record["entry"], commitment, "已整改完毕并作出信用修复承诺")
            if want == "approved":
                decide_repair(ledger, rid, approve=True, reason="符合信用修复条件")
            elif want == "rejected":
                decide_repair(ledger, rid, approve=False, reason="未完全履行相关义务")
            repaired += 1
        except LedgerError:
            continue
    lines.append(f"repairs: {repaired}")
    ended = expire_publicity(ledger, today.isoformat())
    lines.append(f"publicity ended: {len(ended)} records")

    # A follower: a party of a contract follows its counterparty.
    if contracts:
        _, state = contracts[0]
        try:
            follow(ledger, state.parties[0], state.parties[1], start=0)
            lines.append(f"subscription: {state.parties[0]} follows {state.parties[1]}")
        except LedgerError:
            pass
    return lines
