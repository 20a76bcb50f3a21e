"""Statement shape, body validation, signed message, signing and verification."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from verifier.errors import CanonicalizationError, FormatError, SignatureError, UnknownKeyError
from verifier.identity import key_id, make_credit_code
from verifier.statement import (
    STATEMENT_DOMAIN,
    STATEMENT_TYPES,
    b64decode,
    check_date,
    check_time,
    make_statement,
    parse_signed_statement,
    public_key_of,
    sign_statement,
    signed_message,
    terms_digest,
    validate_body,
    validate_statement,
    validate_terms,
    verify_signature,
    verify_signatures,
)

VECTOR: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "vectors" / "statement.json").read_text("utf-8")
)
A = "91350100M000100Y43"
B = make_credit_code("12100000MB0143521")
SEED_B = bytes(range(32))
H = "ab" * 32


def test_vector_signed_message_and_signature() -> None:
    seed = bytes.fromhex(VECTOR["seed_hex"])
    pub = public_key_of(seed)
    assert pub.hex() == VECTOR["public_key_hex"]
    assert key_id(pub) == VECTOR["key_id"]
    message = signed_message(VECTOR["statement"])
    assert message.hex() == VECTOR["signed_message_hex"]
    assert message.startswith(STATEMENT_DOMAIN)
    sig = sign_statement(VECTOR["statement"], VECTOR["statement"]["actor"], seed)
    assert sig == VECTOR["signature"]
    verify_signature(message, base64.b64decode(sig["sig"]), pub, key_id=sig["key_id"])
    parsed = parse_signed_statement(VECTOR["signed_statement"])
    assert parsed.to_dict() == VECTOR["signed_statement"]
    assert parsed.message() == message


def test_rfc8032_test_1() -> None:
    pk = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    assert public_key_of(bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")) == pk
    verify_signature(b"", sig, pk)
    with pytest.raises(SignatureError):
        verify_signature(b"x", sig, pk, key_id="ed25519:00", signer="s")


def test_flipped_bits_fail() -> None:
    seed = bytes.fromhex(VECTOR["seed_hex"])
    pub = public_key_of(seed)
    message = bytes.fromhex(VECTOR["signed_message_hex"])
    sig = base64.b64decode(VECTOR["signature"]["sig"])
    for i in (0, 31, 63):
        bad = bytearray(sig)
        bad[i] ^= 0x01
        with pytest.raises(SignatureError) as e:
            verify_signature(message, bytes(bad), pub, key_id=VECTOR["key_id"], signer=A)
        assert e.value.key_id == VECTOR["key_id"]
        assert e.value.name == A
    bad_msg = bytearray(message)
    bad_msg[-3] ^= 0x20
    with pytest.raises(SignatureError):
        verify_signature(bytes(bad_msg), sig, pub)
    with pytest.raises(SignatureError):
        verify_signature(message, sig[:63], pub)
    with pytest.raises(SignatureError):
        verify_signature(message, sig, pub[:31])
    with pytest.raises(SignatureError):
        verify_signature(message, sig, public_key_of(SEED_B))


def test_sign_statement_wrong_seed() -> None:
    with pytest.raises(FormatError):
        sign_statement(VECTOR["statement"], A, bytes(31))
    with pytest.raises(CanonicalizationError):
        signed_message({"x": 1.5})


def _signed() -> dict[str, Any]:
    return copy.deepcopy(VECTOR["signed_statement"])


def _fails(obj: Any, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        parse_signed_statement(obj)


def test_parse_properties() -> None:
    s = parse_signed_statement(_signed())
    assert s.type == "commitment.made"
    assert s.actor == A
    assert s.version == 1
    assert s.aggregate == VECTOR["statement"]["aggregate"]
    assert s.origin == "credit.beichen.gov.cn/lvyue"
    assert s.signers == frozenset({A})
    assert s.body["kind"] == "deficiency_acceptance"


@pytest.mark.parametrize(
    ("member", "value", "match"),
    [
        ("version", 0, "version"),
        ("version", True, "version"),
        ("version", "1", "version"),
        ("version", 2**53, "version"),
        ("time", "2025-03-01T08:30:00Z ", "time"),
        ("time", "2025-03-01T08:30:00+08:00", "time"),
        ("time", "2025-03-01T08:30:00.123Z", "time"),
        ("time", "2025-02-30T08:30:00Z", "time"),
        ("time", "2025-03-01T24:00:00Z", "time"),
        ("aggregate", "3B241101-E2BB-4255-8CAF-4136C566A962", "aggregate"),
        ("aggregate", "3b241101e2bb42558caf4136c566a962", "aggregate"),
        ("key_id", "ed25519:ABCDEF0123456789", "key_id"),
        ("actor", "91350100m000100y43", "actor"),
        ("actor", "91350100M000100Y44", "actor"),
        ("origin", "", "origin"),
        ("origin", "https://credit.example", "origin"),
        ("origin", "a b", "origin"),
        ("origin", "a+b", "origin"),
        ("type", "contract.exploded", "type"),
        ("body", [], "body"),
    ],
)
def test_statement_member_errors(member: str, value: Any, match: str) -> None:
    obj = _signed()
    obj["statement"][member] = value
    _fails(obj, match)


def test_statement_member_set() -> None:
    obj = _signed()
    del obj["statement"]["time"]
    _fails(obj, "missing time")
    obj = _signed()
    obj["statement"]["extra"] = 1
    _fails(obj, "unexpected extra")
    _fails([], "signed statement must be an object")
    _fails({"statement": VECTOR["statement"]}, "missing signatures")


def test_signature_errors() -> None:
    obj = _signed()
    obj["signatures"] = []
    _fails(obj, "non-empty")
    obj = _signed()
    obj["signatures"][0]["sig"] = base64.b64encode(bytes(63)).decode()
    _fails(obj, "64 bytes")
    obj = _signed()
    obj["signatures"][0]["sig"] = obj["signatures"][0]["sig"].rstrip("=")
    _fails(obj, "base64")
    obj = _signed()
    obj["signatures"][0]["sig"] = "!" + obj["signatures"][0]["sig"][1:]
    _fails(obj, "base64")
    obj = _signed()
    obj["signatures"][0]["key_id"] = "ed25519:" + "0" * 16
    _fails(obj, "statement's key_id")
    obj = _signed()
    obj["signatures"][0]["signer"] = B
    _fails(obj, "must be the actor")
    obj = _signed()
    obj["signatures"].append(dict(obj["signatures"][0]))
    _fails(obj, "signs twice")
    obj = _signed()
    obj["signatures"][0]["extra"] = "x"
    _fails(obj, "unexpected extra")
    obj = _signed()
    obj["signatures"] = [obj["signatures"][0], "sig"]
    _fails(obj, "must be an object")


def test_b64decode_strict() -> None:
    assert b64decode("AAAA", what="x", size=3) == bytes(3)
    for bad in ("AAA", "AA==AA==", "AAA=\n", 5, "AB=="):
        with pytest.raises(FormatError):
            b64decode(bad, what="x")


def test_date_and_time() -> None:
    assert check_date("2024-02-29").day == 29
    assert check_time("2025-01-01T00:00:00Z").year == 2025
    assert check_time("2025-01-01T00:00:00.000001Z").microsecond == 1
    for bad in ("2023-02-29", "2024-2-1", "20240201", 20240201, "2024-13-01"):
        with pytest.raises(FormatError):
            check_date(bad)


def _terms() -> dict[str, Any]:
    return {
        "type": "government_procurement",
        "number": "FJ-2025-001",
        "title": "办公设备采购",
        "parties": [{"subject": A, "role": "甲方"}, {"subject": B, "role": "乙方"}],
        "amount": 100000,
        "currency": "CNY",
        "signed_on": "2025-01-01",
        "starts_on": "2025-01-01",
        "ends_on": "2025-12-31",
        "document_sha256": H,
        "disclose_amount": True,
        "milestones": [
            {
                "id": "m1",
                "obligor": B,
                "obligee": A,
                "due": "2025-06-30",
                "kind": "delivery",
                "amount": 0,
                "description": "交付",
            }
        ],
    }


BODIES: dict[str, dict[str, Any]] = {
    "log.genesis": {
        "log_key": base64.b64encode(bytes(32)).decode(),
        "operator": {"subject": A, "name": "运营", "public_key": base64.b64encode(bytes(32)).decode()},
        "authority": {"subject": B, "name": "发改委", "public_key": base64.b64encode(bytes(32)).decode()},
    },
    "subject.registered": {"subject": A, "kind": "enterprise", "name": "某公司"},
    "key.bound": {
        "subject": A,
        "key_id": "ed25519:" + "0" * 16,
        "public_key": base64.b64encode(bytes(32)).decode(),
        "algorithm": "ed25519",
    },
    "key.revoked": {"subject": A, "key_id": "ed25519:" + "0" * 16, "reason": "rotation"},
    "contract.proposed": {"terms": _terms(), "terms_digest": terms_digest(_terms())},
    "contract.consented": {"terms_digest": H},
    "contract.withdrawn": {"reason": ""},
    "contract.amended": {"terms": _terms(), "terms_digest": H},
    "performance.reported": {
        "milestone": "m1",
        "outcome": "fulfilled",
        "on": "2025-06-01",
        "amount": 0,
        "evidence_sha256": H,
    },
    "performance.confirmed": {"milestone": "m1"},
    "performance.disputed": {"milestone": "m1", "reason": "质量不合格"},
    "dispute.resolved": {"milestone": "m1", "outcome": "partial", "on": "2025-06-01", "amount": 0},
    "milestone.overdue": {"milestone": "m1", "as_of": "2025-07-01"},
    "contract.terminated": {"reason": "协商一致"},
    "judgment.applied": {
        "judgment": "3b241101-e2bb-4255-8caf-4136c566a962",
        "effect": "breach",
        "party": B,
        "milestone": "m1",
        "outcome": "failed",
    },
    "commitment.made": VECTOR["statement"]["body"],
    "commitment.kept": {"on": "2025-03-30", "evidence_sha256": H},
    "commitment.broken": {"on": "2025-03-30", "reason": "未补齐"},
    "commitment.overdue": {"as_of": "2025-04-01"},
    "judgment.recorded": {
        "court": "天津市北辰区人民法院",
        "case_number": "(2025)津0113民初1234号",
        "kind": "judgment",
        "decided_on": "2025-05-01",
        "parties": [A, B],
        "contract": "0f6a3b42-5d1e-4c7a-9b2f-3e4d5c6b7a81",
        "contract_number": "BC-2025-0001",
        "summary_sha256": H,
        "effect": "none",
        "party": None,
        "milestone": None,
        "outcome": None,
    },
    "judgment.linked": {"contract": "0f6a3b42-5d1e-4c7a-9b2f-3e4d5c6b7a81"},
    "objection.filed": {"entry": 12, "reason": "已按期交付"},
    "objection.upheld": {"reason": "核实属实", "correction": "该里程碑按期履行"},
    "objection.rejected": {"reason": "证据不足"},
    "repair.applied": {"entry": 12, "commitment": "0f6a3b42-5d1e-4c7a-9b2f-3e4d5c6b7a81", "reason": "已履行义务"},
    "repair.approved": {"severity": "general", "reason": "符合修复条件"},
    "repair.rejected": {"reason": "未满最短公示期"},
    "repair.publicity_ended": {"subject": A, "entry": 12, "severity": "minor", "as_of": "2025-08-01"},
}


def test_every_type_has_a_valid_body() -> None:
    assert set(BODIES) == STATEMENT_TYPES
    for t, body in BODIES.items():
        assert validate_body(t, body) == body


@pytest.mark.parametrize("t", sorted(BODIES))
def test_missing_and_extra_members(t: str) -> None:
    body = dict(BODIES[t])
    body["extra"] = 1
    with pytest.raises(FormatError, match="unexpected extra"):
        validate_body(t, body)
    body = dict(BODIES[t])
    first = sorted(body)[0]
    del body[first]
    with pytest.raises(FormatError, match="missing " + first):
        validate_body(t, body)


@pytest.mark.parametrize(
    ("t", "member", "value"),
    [
        ("subject.registered", "kind", "company"),
        ("subject.registered", "subject", "91350100m000100y43"),
        ("key.bound", "algorithm", "rsa"),
        ("key.bound", "public_key", base64.b64encode(bytes(33)).decode()),
        ("key.bound", "key_id", "ed25519:0"),
        ("contract.consented", "terms_digest", "AB" * 32),
        ("contract.consented", "terms_digest", "ab" * 31),
        ("performance.reported", "outcome", "done"),
        ("performance.reported", "amount", -1),
        ("performance.reported", "amount", 1.0),
        ("performance.reported", "amount", True),
        ("performance.reported", "on", "2025-06-31"),
        ("performance.reported", "milestone", ""),
        ("performance.disputed", "reason", " "),
        ("milestone.overdue", "as_of", "2025/07/01"),
        ("commitment.made", "kind", "promise"),
        ("commitment.made", "related", -1),
        ("commitment.made", "related", "3"),
        ("commitment.made", "content", ""),
        ("commitment.kept", "evidence_sha256", None),
        ("judgment.applied", "judgment", "not-a-uuid"),
        ("judgment.applied", "effect", "fine"),
        ("judgment.applied", "outcome", "partial"),
        ("judgment.applied", "party", None),
        ("log.genesis", "log_key", "AAAA"),
        ("log.genesis", "operator", {"subject": A, "name": "x"}),
        ("contract.withdrawn", "reason", 5),
    ],
)
def test_body_member_errors(t: str, member: str, value: Any) -> None:
    body = copy.deepcopy(BODIES[t])
    body[member] = value
    with pytest.raises(FormatError):
        validate_body(t, body)


def test_judgment_effect_shapes() -> None:
    base = BODIES["judgment.applied"]
    ok = [
        {**base, "effect": "terminate", "party": None, "milestone": None, "outcome": None},
        {**base, "effect": "end_dispute", "party": None, "outcome": "partial"},
        {**base, "milestone": None, "outcome": None},
    ]
    for body in ok:
        validate_body("judgment.applied", body)
    bad = [
        {**base, "effect": "terminate"},
        {**base, "effect": "end_dispute", "party": None, "outcome": None},
        {**base, "effect": "end_dispute"},
        {**base, "milestone": None},
    ]
    for body in bad:
        with pytest.raises(FormatError):
            validate_body("judgment.applied", body)


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("type", "loan"),
        ("currency", "USD"),
        ("amount", -5),
        ("disclose_amount", "yes"),
        ("parties", {}),
        ("parties", [{"subject": A}]),
        ("milestones", [{"id": "m1"}]),
        ("milestones", None),
        ("document_sha256", "0" * 63),
        ("signed_on", "2025-1-1"),
        ("number", ""),
    ],
)
def test_terms_errors(member: str, value: Any) -> None:
    terms = _terms()
    terms[member] = value
    with pytest.raises(FormatError):
        validate_terms(terms)


def test_unknown_type_and_non_object_body() -> None:
    with pytest.raises(FormatError, match="unknown statement type"):
        validate_body("contract.signed", {})
    with pytest.raises(FormatError, match="unknown statement type"):
        validate_body(5, {})  # type: ignore[arg-type]
    with pytest.raises(FormatError, match="must be an object"):
        validate_body("contract.withdrawn", "reason")


def test_terms_digest_is_sha256_of_canonical() -> None:
    import hashlib

    from verifier.canonical import canonicalize

    assert terms_digest(_terms()) == hashlib.sha256(canonicalize(_terms())).hexdigest()


def test_make_statement_and_joint_signatures() -> None:
    seed_a = bytes.fromhex(VECTOR["seed_hex"])
    st = make_statement(
        "contract.terminated",
        "credit.beichen.gov.cn/lvyue",
        A,
        key_id(public_key_of(seed_a)),
        "3b241101-e2bb-4255-8caf-4136c566a962",
        5,
        "2025-08-01T00:00:00Z",
        {"reason": "协商一致"},
    )
    assert validate_statement(st) == st
    signed = parse_signed_statement(
        {"statement": st, "signatures": [sign_statement(st, A, seed_a), sign_statement(st, B, SEED_B)]}
    )
    keys = {
        (A, key_id(public_key_of(seed_a))): public_key_of(seed_a),
        (B, key_id(public_key_of(SEED_B))): public_key_of(SEED_B),
    }

    def lookup(signer: str, kid: str) -> bytes:
        if (signer, kid) not in keys:
            raise UnknownKeyError("unknown", key_id=kid)
        return keys[(signer, kid)]

    assert verify_signatures(signed, lookup) == frozenset({A, B})
    del keys[(B, key_id(public_key_of(SEED_B)))]
    with pytest.raises(UnknownKeyError):
        verify_signatures(signed, lookup)
    keys[(B, key_id(public_key_of(SEED_B)))] = public_key_of(seed_a)
    with pytest.raises(SignatureError):
        verify_signatures(signed, lookup)
