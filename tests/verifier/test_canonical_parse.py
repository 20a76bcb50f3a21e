"""parse_canonical: the fast path and the full check agree on every input, canonical or not."""

from __future__ import annotations

import random

import pytest
import rfc8785

from verifier.canonical import _parse_canonical_fully, canonicalize, parse_canonical
from verifier.errors import CanonicalizationError

REFUSED = [
    b'{"a":1.5}',
    b'{"a":1e5}',
    b'{"a":1E+2}',
    b'{"a":-0.0}',
    b'{"a":-0}',
    b'{"a":NaN}',
    b'{"a":Infinity}',
    b'{"a":9007199254740992}',
    b'{"a":-9007199254740992}',
    b'{"a":123456789012345678901234567890}',
    b'{"b":1,"a":2}',
    b'{"a":1,"a":1}',
    b'["\\ud800"]',
    b" {}",
    b"{} ",
    b'{"a":"\\u00e9"}',
    b'{"a":"\\/"}',
    b"\xef\xbb\xbf{}",
    b'{"a":"\xff"}',
    b'{"\xf0\x9f\x98\x80":1,"\xef\xbc\x86":2,"a":3}',  # UTF-8 order: astral key last; JCS: before U+FF06
    b"",
    b"{",
]


@pytest.mark.parametrize("data", REFUSED)
def test_fast_path_refuses_exactly_what_the_full_check_refuses(data: bytes) -> None:
    with pytest.raises(CanonicalizationError) as full:
        _parse_canonical_fully(data)
    with pytest.raises(CanonicalizationError) as fast:
        parse_canonical(data)
    assert str(fast.value) == str(full.value)


def test_random_values_round_trip_through_both_paths() -> None:
    rng = random.Random(7)
    chars = ["a", "Z", "é", "中", "，", "\ue000", "\uffff", "\U0001f600", "\x7f", '"', "\\", "\n"]

    def value(depth: int) -> object:
        pick = rng.randrange(7 if depth < 3 else 4)
        if pick == 0:
            return rng.randint(-(2**53) + 1, 2**53 - 1)
        if pick == 1:
            return "".join(rng.choice(chars) for _ in range(rng.randint(0, 4)))
        if pick == 2:
            return rng.choice([True, False, None])
        if pick == 3:
            return rng.randint(-5, 5)
        if pick == 4:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {"".join(rng.choice(chars) for _ in range(rng.randint(1, 3))): value(depth + 1) for _ in range(4)}

    for _ in range(2000):
        v = value(0)
        data = canonicalize(v)
        assert data == rfc8785.dumps(v)
        assert parse_canonical(data) == v == _parse_canonical_fully(data)
