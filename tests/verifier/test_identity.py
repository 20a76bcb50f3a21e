"""GB 32100-2015 credit codes, GB 11643-1999 citizen ID numbers, pseudonyms, key ids and derived ids."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from verifier.errors import FormatError, IdentifierError
from verifier.identity import (
    CREDIT_CODE_CHARSET,
    NAMESPACE,
    check_citizen_id,
    check_credit_code,
    check_key_id,
    check_subject_id,
    citizen_id_check_digit,
    credit_code_check_character,
    is_credit_code,
    is_key_id,
    is_pseudonym,
    key_id,
    log_aggregate,
    make_citizen_id,
    make_credit_code,
    mask_subject_id,
    pseudonym,
    subject_aggregate,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "vectors" / "identity.json").read_text("utf-8")
)


def test_charset_excludes_i_o_s_v_z() -> None:
    assert len(CREDIT_CODE_CHARSET) == 31
    for c in "IOSVZ":
        assert c not in CREDIT_CODE_CHARSET


def test_credit_code_check_character_by_hand() -> None:
    # 91350100M000100Y4 -> values 9 1 3 5 0 1 0 0 21 0 0 0 1 0 0 30 4
    values = [9, 1, 3, 5, 0, 1, 0, 0, 21, 0, 0, 0, 1, 0, 0, 30, 4]
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    total = sum(v * w for v, w in zip(values, weights, strict=True))
    assert total == 1640  # 9+3+27+135+26+420+8+900+112
    assert total % 31 == 28
    assert 31 - total % 31 == 3
    assert credit_code_check_character("91350100M000100Y4") == "3"
    assert make_credit_code("91350100M000100Y4") == "91350100M000100Y43"


def test_credit_code_check_value_31_maps_to_0() -> None:
    # Find a prefix whose weighted sum is divisible by 31: its check character is "0".
    for last in CREDIT_CODE_CHARSET:
        first17 = "9135010000000000" + last
        total = sum(
            CREDIT_CODE_CHARSET.index(c) * w
            for c, w in zip(first17, [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], strict=True)
        )
        if total % 31 == 0:
            assert credit_code_check_character(first17) == "0"
            assert check_credit_code(first17 + "0") == first17 + "0"
            return
    pytest.fail("no prefix with a sum divisible by 31")


@pytest.mark.parametrize("code", VECTORS["credit_codes"]["valid"])
def test_valid_credit_codes(code: str) -> None:
    assert check_credit_code(code) == code
    assert check_credit_code(code.lower()) == code
    assert is_credit_code(code)
    assert check_subject_id(code) == code
    assert make_credit_code(code[:17]) == code


@pytest.mark.parametrize("case", VECTORS["credit_codes"]["invalid"], ids=lambda c: c["code"] or "empty")
def test_invalid_credit_codes(case: dict[str, str]) -> None:
    with pytest.raises(IdentifierError) as e:
        check_credit_code(case["code"])
    assert e.value.part == case["part"]
    assert not is_credit_code(case["code"])


def test_credit_code_messages_carry_position_and_expected() -> None:
    with pytest.raises(IdentifierError, match="position 16"):
        check_credit_code("91350100M000100I43")
    with pytest.raises(IdentifierError, match="expected '3', found '4'") as e:
        check_credit_code("91350100M000100Y44")
    assert e.value.value == "91350100M000100Y44"


def test_credit_code_wrong_type_and_lowercase_is_not_normal_form() -> None:
    with pytest.raises(IdentifierError):
        check_credit_code(91350100)  # type: ignore[arg-type]
    assert not is_credit_code("91350100m000100y43")
    assert not is_credit_code(None)
    with pytest.raises(IdentifierError) as e:
        credit_code_check_character("91350100M000100Y")
    assert e.value.part == "length"


def test_citizen_id_check_digit_by_hand() -> None:
    # 11010519491231002: weighted sum 167, 167 mod 11 = 2 -> "X"
    digits = [int(c) for c in "11010519491231002"]
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(d * w for d, w in zip(digits, weights, strict=True))
    assert total == 167
    assert total % 11 == 2
    assert citizen_id_check_digit("11010519491231002") == "X"
    assert make_citizen_id("44052418800101001") == "440524188001010014"


@pytest.mark.parametrize("id_number", VECTORS["citizen_ids"]["valid"])
def test_valid_citizen_ids(id_number: str) -> None:
    assert check_citizen_id(id_number) == id_number
    assert make_citizen_id(id_number[:17]) == id_number


def test_citizen_id_lowercase_x_is_normalised() -> None:
    assert check_citizen_id("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize("case", VECTORS["citizen_ids"]["invalid"], ids=lambda c: c["id"])
def test_invalid_citizen_ids(case: dict[str, str]) -> None:
    with pytest.raises(IdentifierError) as e:
        check_citizen_id(case["id"])
    assert e.value.part == case["part"]


def test_citizen_id_prefix_errors() -> None:
    with pytest.raises(IdentifierError) as e:
        citizen_id_check_digit("1101051949123100")
    assert e.value.part == "length"
    with pytest.raises(IdentifierError) as e:
        citizen_id_check_digit("11010519490231002")
    assert e.value.part == "birth_date"


@pytest.mark.parametrize("case", VECTORS["pseudonyms"], ids=lambda c: c["id_number"])
def test_pseudonym_vectors(case: dict[str, str]) -> None:
    key = bytes.fromhex(case["key_hex"])
    assert pseudonym(key, case["id_number"]) == case["pseudonym"]
    normal = case["id_number"].upper()
    assert case["pseudonym"] == "psn:" + hmac.new(key, normal.encode(), hashlib.sha256).hexdigest()[:32]
    assert is_pseudonym(case["pseudonym"])
    assert check_subject_id(case["pseudonym"]) == case["pseudonym"]


def test_pseudonym_depends_on_key_and_validates_id() -> None:
    assert pseudonym(b"a", "11010519491231002X") != pseudonym(b"b", "11010519491231002X")
    with pytest.raises(IdentifierError):
        pseudonym(b"a", "110105194912310021")
    with pytest.raises(FormatError):
        pseudonym(b"", "11010519491231002X")


@pytest.mark.parametrize(
    "bad", ["psn:", "psn:" + "A" * 32, "psn:" + "0" * 31, "psn:" + "0" * 33, "PSN:" + "0" * 32, "hello", ""]
)
def test_bad_subject_ids(bad: str) -> None:
    assert not is_pseudonym(bad)
    with pytest.raises(IdentifierError):
        check_subject_id(bad)


def test_subject_id_wrong_type() -> None:
    with pytest.raises(IdentifierError):
        check_subject_id(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", VECTORS["key_ids"], ids=lambda c: c["key_id"])
def test_key_id_vectors(case: dict[str, str]) -> None:
    pk = bytes.fromhex(case["public_key_hex"])
    assert key_id(pk) == case["key_id"]
    assert case["key_id"] == "ed25519:" + hashlib.sha256(pk).hexdigest()[:16]
    assert is_key_id(case["key_id"])
    assert check_key_id(case["key_id"]) == case["key_id"]


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(33), "00" * 32])
def test_key_id_wrong_length_or_type(bad: Any) -> None:
    with pytest.raises(FormatError):
        key_id(bad)


@pytest.mark.parametrize("bad", ["ed25519:" + "0" * 15, "ed25519:" + "G" * 16, "rsa:" + "0" * 16, 5])
def test_bad_key_id_forms(bad: object) -> None:
    assert not is_key_id(bad)
    with pytest.raises(FormatError):
        check_key_id(bad)


@pytest.mark.parametrize("case", VECTORS["aggregates"], ids=lambda c: c["kind"] + ":" + c["input"])
def test_derived_aggregates(case: dict[str, str]) -> None:
    fn = subject_aggregate if case["kind"] == "subject" else log_aggregate
    assert fn(case["input"]) == case["id"]
    assert case["id"] == str(uuid.uuid5(NAMESPACE, case["kind"] + ":" + case["input"]))
    assert uuid.UUID(case["id"]).version == 5


def test_namespace_value() -> None:
    assert str(NAMESPACE) == "1f9c1fb2-bf17-5f97-955b-566ac5624ebc"


@pytest.mark.parametrize("case", VECTORS["masked"], ids=lambda c: c["input"])
def test_masking_vectors(case: dict[str, str]) -> None:
    assert mask_subject_id(case["input"]) == case["masked"]


def test_masking_shapes() -> None:
    assert mask_subject_id("91350100M000100Y43") == "91350100******0Y43"
    p = "psn:" + "0123456789abcdef" * 2
    assert mask_subject_id(p) == "psn:01234567…"
    assert mask_subject_id("abc") == "***"
    assert mask_subject_id("abcdefgh") == "ab****gh"
