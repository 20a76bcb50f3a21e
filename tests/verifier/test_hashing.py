"""Entry, leaf and node hashes against the known answers in docs/vectors/merkle.json."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from verifier.hashing import EMPTY_ROOT, HASH_SIZE, entry_hash, leaf_hash, node_hash

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "vectors" / "merkle.json").read_text("utf-8")
)


def test_empty_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert EMPTY_ROOT.hex() == VECTORS["empty_root"]
    assert HASH_SIZE == 32


def test_entry_and_leaf_hash_vectors() -> None:
    for text, eh, lh in zip(VECTORS["entries"], VECTORS["entry_hashes"], VECTORS["leaf_hashes"], strict=True):
        data = text.encode("utf-8")
        assert entry_hash(data).hex() == eh
        assert leaf_hash(data).hex() == lh
        assert entry_hash(data) != leaf_hash(data)


def test_rfc6962_leaf_of_empty_entry() -> None:
    # RFC 6962 test vector: the leaf hash of the empty entry is also the root of the one-entry tree.
    assert leaf_hash(b"").hex() == VECTORS["rfc6962"]["roots"]["1"]
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


def test_node_hash_definition_and_order() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert node_hash(a, b) != node_hash(b, a)
    assert node_hash(a, b) != hashlib.sha256(a + b).digest()


@pytest.mark.parametrize("left_size,right_size", [(31, 32), (32, 33), (0, 32), (32, 0), (64, 0)])
def test_node_hash_refuses_wrong_sizes(left_size: int, right_size: int) -> None:
    with pytest.raises(ValueError):
        node_hash(b"\x00" * left_size, b"\x00" * right_size)


@pytest.mark.parametrize("bad", ["text", 5, None, ["a"]])
def test_entry_hashes_refuse_non_bytes(bad: Any) -> None:
    with pytest.raises(TypeError):
        entry_hash(bad)
    with pytest.raises(TypeError):
        leaf_hash(bad)
