"""Rules of the log and subject aggregates: genesis, subject.registered, key.bound, key.revoked.

The helpers here (subjects, statement builder, facts) are shared by the other rule tests.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import pytest

from verifier.errors import RuleViolation
from verifier.identity import key_id, log_aggregate, make_credit_code, pseudonym, subject_aggregate
from verifier.rules import AggregateState, Facts, LogState, Outcome, SubjectState, apply
from verifier.rules.log import apply_log
from verifier.statement import make_statement, public_key_of, validate_statement

ORIGIN = "credit.beichen.gov.cn/lvyue"
OPERATOR = make_credit_code("12350100MB0000001")
AUTHORITY = make_credit_code("11350100003591037")
ACME = "91350100M000100Y43"
BETA = "914403001922038216"
GOV = make_credit_code("11350100MB0000002")
PERSON = pseudonym(b"k", "11010519491231002X")
STRANGER = "91330100716105852F"
LOG_PK = public_key_of(bytes([9]) * 32)
PK = public_key_of(bytes([1]) * 32)
KID = key_id(PK)
REGISTERED = frozenset({OPERATOR, AUTHORITY, ACME, BETA, GOV, PERSON})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def st(
    type: str,
    actor: str,
    aggregate: str,
    body: dict[str, Any],
    *,
    version: int = 1,
    time: str = "2025-06-15T02:00:00Z",
    kid: str = KID,
) -> dict[str, Any]:
    """A statement, checked to be well formed so that only the rules can refuse it."""
    return validate_statement(make_statement(type, ORIGIN, actor, kid, aggregate, version, time, body))


def facts(
    registered: Iterable[str] = REGISTERED,
    valid_keys: Iterable[tuple[str, str]] = (),
    *,
    bound: Iterable[tuple[str, str]] | None = None,
    judgments: Iterable[str] | None = None,
    index: int | None = None,
) -> Facts:
    reg = frozenset(registered)
    keys = frozenset(valid_keys)
    ever = None if bound is None else frozenset(bound)
    js = None if judgments is None else frozenset(judgments)
    return Facts(
        operator=OPERATOR,
        authority=AUTHORITY,
        is_registered=lambda s: s in reg,
        key_is_valid=lambda s, k: (s, k) in keys,
        key_was_bound=None if ever is None else (lambda s, k: (s, k) in ever),
        judgment_exists=None if js is None else (lambda j: j in js),
        index=index,
    )


def run(
    state: AggregateState | None,
    statement: dict[str, Any],
    signers: Iterable[str] | None = None,
    f: Facts | None = None,
) -> Outcome:
    return apply(state, statement, frozenset(signers or {statement["actor"]}), f or facts())


def refused(
    code: str,
    state: AggregateState | None,
    statement: dict[str, Any],
    signers: Iterable[str] | None = None,
    f: Facts | None = None,
) -> RuleViolation:
    with pytest.raises(RuleViolation) as e:
        run(state, statement, signers, f)
    assert e.value.code == code, str(e.value)
    return e.value


# ---------------------------------------------------------------- genesis


def genesis_body() -> dict[str, Any]:
    return {
        "log_key": b64(LOG_PK),
        "operator": {"subject": OPERATOR, "name": "北辰市公共信用信息中心", "public_key": b64(PK)},
        "authority": {"subject": AUTHORITY, "name": "北辰市发展和改革委员会", "public_key": b64(PK)},
    }


def genesis(body: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    b = body or genesis_body()
    kw.setdefault("kid", key_id(LOG_PK))
    return st("log.genesis", b["operator"]["subject"], log_aggregate(ORIGIN), b, **kw)


def empty_facts() -> Facts:
    return Facts(operator="", authority="", is_registered=lambda s: False, key_is_valid=lambda s, k: False)


def test_genesis() -> None:
    out = run(None, genesis(), f=empty_facts())
    assert isinstance(out.state, LogState)
    assert out.state.operator == OPERATOR
    assert out.state.authority == AUTHORITY
    assert out.state.log_key == LOG_PK
    assert out.state.log_key_id == key_id(LOG_PK)
    assert out.state.authority_key == PK
    assert out.concerns == tuple(sorted({OPERATOR, AUTHORITY}))


def test_genesis_refusals() -> None:
    state = run(None, genesis(), f=empty_facts()).state
    refused("aggregate_exists", state, genesis())
    bad = genesis()
    bad["aggregate"] = subject_aggregate(OPERATOR)
    refused("wrong_aggregate", None, bad)
    refused("key_mismatch", None, genesis(kid=KID))
    body = genesis_body()
    body["authority"]["subject"] = OPERATOR
    refused("wrong_role", None, genesis(body))
    other = genesis()
    other["actor"] = AUTHORITY
    refused("wrong_role", None, other, signers={AUTHORITY})
    body = genesis_body()
    body["authority"]["subject"] = PERSON
    refused("wrong_kind", None, genesis(body))
    refused("unexpected_signer", None, genesis(), signers={OPERATOR, AUTHORITY})
    refused("missing_signature", None, genesis(), signers={AUTHORITY})
    with pytest.raises(RuleViolation) as e:
        apply_log(
            state,
            st(
                "subject.registered",
                AUTHORITY,
                log_aggregate(ORIGIN),
                {"subject": ACME, "kind": "enterprise", "name": "x"},
            ),
            frozenset({AUTHORITY}),
            facts(),
        )
    assert e.value.code == "illegal_transition"


def test_subject_statement_on_log_aggregate_is_wrong_aggregate() -> None:
    state = run(None, genesis(), f=empty_facts()).state
    s = st(
        "subject.registered",
        AUTHORITY,
        log_aggregate(ORIGIN),
        {"subject": STRANGER, "kind": "enterprise", "name": "x"},
    )
    refused("wrong_aggregate", state, s)


def test_unknown_type() -> None:
    s = st("contract.withdrawn", ACME, "3b241101-e2bb-4255-8caf-4136c566a962", {"reason": ""})
    s["type"] = "contract.vanished"
    refused("unknown_type", None, s)


# ---------------------------------------------------------------- subject.registered


def registered(
    subject: str = STRANGER, kind: str = "enterprise", name: str = "某某科技有限公司", **kw: Any
) -> dict[str, Any]:
    actor = kw.pop("actor", AUTHORITY)
    agg = kw.pop("aggregate", subject_aggregate(subject))
    return st("subject.registered", actor, agg, {"subject": subject, "kind": kind, "name": name}, **kw)


def test_subject_registered() -> None:
    out = run(None, registered())
    assert out.state == SubjectState(STRANGER, "enterprise", "某某科技有限公司")
    assert out.concerns == tuple(sorted({STRANGER, AUTHORITY}))
    person = pseudonym(b"k", "440524188001010014")
    out = run(None, registered(person, "person", ""))
    assert isinstance(out.state, SubjectState)
    assert out.state.kind == "person"


def test_subject_registered_refusals() -> None:
    refused("wrong_role", None, registered(actor=OPERATOR))
    refused("wrong_aggregate", None, registered(aggregate=subject_aggregate(ACME)))
    refused("already_registered", None, registered(ACME))
    refused("already_registered", SubjectState(STRANGER, "enterprise", "x"), registered())
    refused("wrong_kind", None, registered(STRANGER, "person", ""))
    refused("wrong_kind", None, registered(pseudonym(b"k", "440524188001010014"), "enterprise", "x"))
    refused("name_not_allowed", None, registered(pseudonym(b"k", "440524188001010014"), "person", "张三"))
    refused("missing_name", None, registered(STRANGER, "government", " "))
    refused("unexpected_signer", None, registered(), signers={AUTHORITY, STRANGER})


# ---------------------------------------------------------------- keys


def bound(subject: str = ACME, public_key: bytes = PK, **kw: Any) -> dict[str, Any]:
    actor = kw.pop("actor", AUTHORITY)
    kid = kw.pop("key", key_id(public_key))
    body = {"subject": subject, "key_id": kid, "public_key": b64(public_key), "algorithm": "ed25519"}
    return st("key.bound", actor, subject_aggregate(subject), body, **kw)


def revoked(subject: str = ACME, kid: str = KID, **kw: Any) -> dict[str, Any]:
    actor = kw.pop("actor", AUTHORITY)
    body = {"subject": subject, "key_id": kid, "reason": "轮换"}
    return st("key.revoked", actor, subject_aggregate(subject), body, **kw)


def test_key_bound_on_registered_subject() -> None:
    state = SubjectState(ACME, "enterprise", "甲")
    out = run(state, bound(version=2))
    assert isinstance(out.state, SubjectState)
    assert out.state.keys == frozenset({KID})
    assert state.keys == frozenset()  # input untouched
    assert out.concerns == tuple(sorted({ACME, AUTHORITY}))


def test_genesis_subject_aggregate_starts_with_a_key_statement() -> None:
    out = run(None, bound(OPERATOR))
    assert out.state == SubjectState(OPERATOR, None, "", True, frozenset({KID}))
    out = run(None, revoked(OPERATOR), f=facts(valid_keys={(OPERATOR, KID)}))
    assert out.state == SubjectState(OPERATOR, None, "")
    refused("not_registered", None, bound(STRANGER))
    refused("not_registered", None, revoked(STRANGER))


def test_key_refusals() -> None:
    state = SubjectState(ACME, "enterprise", "甲")
    refused("wrong_role", state, bound(actor=ACME))
    refused("key_mismatch", state, bound(key="ed25519:" + "0" * 16))
    refused("key_already_bound", SubjectState(ACME, "enterprise", "甲", keys=frozenset({KID})), bound())
    refused("key_already_bound", state, bound(), f=facts(valid_keys={(ACME, KID)}))
    refused("key_already_bound", state, bound(), f=facts(bound={(ACME, KID)}))
    refused("key_not_valid", state, revoked())
    refused("wrong_role", state, revoked(actor=OPERATOR), f=facts(valid_keys={(ACME, KID)}))
    refused("wrong_aggregate", LogState(ORIGIN, LOG_PK, OPERATOR, "", PK, AUTHORITY, "", PK), bound())


def test_key_revoked() -> None:
    state = SubjectState(ACME, "enterprise", "甲", keys=frozenset({KID}))
    out = run(state, revoked(), f=facts(valid_keys={(ACME, KID)}))
    assert out.state == state
    assert out.concerns == tuple(sorted({ACME, AUTHORITY}))
