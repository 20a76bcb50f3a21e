"""The Merkle tree: stored-hash layout, roots, proofs, against vectors and exhaustively for sizes 1..40."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from verifier.errors import ProofError
from verifier.hashing import EMPTY_ROOT, leaf_hash
from verifier.merkle import (
    CompactRange,
    MemoryHashStore,
    check_consistency,
    check_inclusion,
    prove_consistency,
    prove_inclusion,
    prove_inclusions,
    root_of_leaves,
    split_stored_hash_index,
    stored_hash_count,
    stored_hash_index,
    stored_hashes_for_record,
    tree_hash,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "vectors" / "merkle.json").read_text("utf-8")
)
ENTRIES = [e.encode("utf-8") for e in VECTORS["entries"]]
N = len(ENTRIES)
MAX = 40


def _store(entries: list[bytes]) -> MemoryHashStore:
    store = MemoryHashStore()
    for e in entries:
        store.append_entry(e)
    return store


@pytest.fixture(scope="module")
def vstore() -> MemoryHashStore:
    return _store(ENTRIES)


@pytest.fixture(scope="module")
def big() -> tuple[MemoryHashStore, list[bytes]]:
    entries = [f"entry {i}".encode() for i in range(MAX)]
    return _store(entries), [leaf_hash(e) for e in entries]


def _flips(h: bytes) -> list[bytes]:
    out = []
    for i in range(len(h) * 8):
        b = bytearray(h)
        b[i // 8] ^= 1 << (i % 8)
        out.append(bytes(b))
    return out


# --- known answers -------------------------------------------------------------------------------------


def test_rfc6962_roots() -> None:
    store = MemoryHashStore()
    for i, leaf in enumerate(VECTORS["rfc6962"]["leaves"]):
        store.append_entry(bytes.fromhex(leaf))
        assert store.root().hex() == VECTORS["rfc6962"]["roots"][str(i + 1)]


def test_vector_roots_and_stored_hashes(vstore: MemoryHashStore) -> None:
    assert [h.hex() for h in vstore.hashes] == VECTORS["stored_hashes"]
    for n in range(N + 1):
        assert tree_hash(n, vstore.read).hex() == VECTORS["roots"][n]
        assert stored_hash_count(n) == VECTORS["stored_hash_count"][n]
    leaves = [bytes.fromhex(h) for h in VECTORS["leaf_hashes"]]
    assert [leaf_hash(e) for e in ENTRIES] == leaves
    assert tree_hash(0, vstore.read) == EMPTY_ROOT
    for level, n, index in VECTORS["stored_hash_index"]:
        assert stored_hash_index(level, n) == index
        assert split_stored_hash_index(index) == (level, n)


def test_vector_proofs(vstore: MemoryHashStore) -> None:
    roots = [bytes.fromhex(r) for r in VECTORS["roots"]]
    leaves = [bytes.fromhex(h) for h in VECTORS["leaf_hashes"]]
    for v in VECTORS["inclusion"]:
        proof = [bytes.fromhex(h) for h in v["proof"]]
        assert prove_inclusion(v["tree_size"], v["index"], vstore.read) == proof
        check_inclusion(proof, v["tree_size"], roots[v["tree_size"]], v["index"], leaves[v["index"]])
    for v in VECTORS["consistency"]:
        proof = [bytes.fromhex(h) for h in v["proof"]]
        assert prove_consistency(v["new_size"], v["old_size"], vstore.read) == proof
        check_consistency(proof, v["new_size"], roots[v["new_size"]], v["old_size"], roots[v["old_size"]])


def test_every_bit_flip_of_every_vector_proof_fails() -> None:
    roots = [bytes.fromhex(r) for r in VECTORS["roots"]]
    leaves = [bytes.fromhex(h) for h in VECTORS["leaf_hashes"]]
    for v in VECTORS["inclusion"]:
        t, n = v["tree_size"], v["index"]
        proof = [bytes.fromhex(h) for h in v["proof"]]
        for i, h in enumerate(proof):
            for bad in _flips(h):
                with pytest.raises(ProofError):
                    check_inclusion([*proof[:i], bad, *proof[i + 1 :]], t, roots[t], n, leaves[n])
        for bad in _flips(leaves[n]):
            with pytest.raises(ProofError):
                check_inclusion(proof, t, roots[t], n, bad)
        for bad in _flips(roots[t])[::17]:
            with pytest.raises(ProofError):
                check_inclusion(proof, t, bad, n, leaves[n])
    for v in VECTORS["consistency"]:
        t, n = v["new_size"], v["old_size"]
        proof = [bytes.fromhex(h) for h in v["proof"]]
        for i, h in enumerate(proof):
            for bad in _flips(h):
                with pytest.raises(ProofError):
                    check_consistency([*proof[:i], bad, *proof[i + 1 :]], t, roots[t], n, roots[n])
        for bad in _flips(roots[n])[::13]:
            with pytest.raises(ProofError):
                check_consistency(proof, t, roots[t], n, bad)
        for bad in _flips(roots[t])[::13]:
            with pytest.raises(ProofError):
                check_consistency(proof, t, bad, n, roots[n])


# --- stored hash layout ----------------------------------------------------------------------------------


def test_stored_hash_index_round_trips() -> None:
    seen = set()
    for index in range(3000):
        level, n = split_stored_hash_index(index)
        assert stored_hash_index(level, n) == index
        seen.add((level, n))
    assert len(seen) == 3000


def test_stored_hash_count_matches_store(big: tuple[MemoryHashStore, list[bytes]]) -> None:
    store = MemoryHashStore()
    for i in range(MAX):
        store.append_entry(f"entry {i}".encode())
        assert len(store.hashes) == stored_hash_count(i + 1)
    assert store.hashes == big[0].hashes


def test_stored_hashes_for_record_reads_only_earlier_hashes() -> None:
    store = MemoryHashStore()
    for i in range(20):
        leaf = leaf_hash(str(i).encode())
        limit = stored_hash_index(0, i)
        requested: list[int] = []

        def reader(indexes: Any, limit: int = limit, requested: list[int] = requested) -> list[bytes]:
            requested.extend(indexes)
            assert all(x < limit for x in indexes)
            return store.read(indexes)

        hashes = stored_hashes_for_record(i, leaf, reader)
        assert hashes[0] == leaf
        assert len(hashes) == 1 + len(requested)
        store.hashes.extend(hashes)
        store.size += 1


@pytest.mark.parametrize("bad", [-1])
def test_layout_refuses_negative(bad: int) -> None:
    with pytest.raises(ValueError):
        stored_hash_index(bad, 0)
    with pytest.raises(ValueError):
        stored_hash_index(0, bad)
    with pytest.raises(ValueError):
        split_stored_hash_index(bad)
    with pytest.raises(ValueError):
        stored_hash_count(bad)
    with pytest.raises(ValueError):
        tree_hash(bad, MemoryHashStore().read)


def test_reader_returning_wrong_data_is_refused(big: tuple[MemoryHashStore, list[bytes]]) -> None:
    store = big[0]
    with pytest.raises(ValueError):
        tree_hash(7, lambda idx: store.read(idx)[:-1])
    with pytest.raises(ValueError):
        tree_hash(7, lambda idx: [h[:31] for h in store.read(idx)])
    with pytest.raises(ValueError):
        prove_inclusion(7, 3, lambda idx: [*store.read(idx), b"\x00" * 32])
    with pytest.raises(ValueError):
        stored_hashes_for_record(3, b"\x00" * 31, store.read)


# --- exhaustive, sizes 1..40 -----------------------------------------------------------------------------


def test_roots_agree_for_every_size(big: tuple[MemoryHashStore, list[bytes]]) -> None:
    store, leaves = big
    compact = CompactRange()
    assert compact.root() == EMPTY_ROOT == root_of_leaves([])
    for t in range(1, MAX + 1):
        compact.append(leaves[t - 1])
        expected = root_of_leaves(leaves[:t])
        assert tree_hash(t, store.read) == expected
        assert compact.root() == expected
        assert compact.size == t
        assert len(compact.hashes) == bin(t).count("1")


def test_inclusion_for_every_size_and_index(big: tuple[MemoryHashStore, list[bytes]]) -> None:
    store, leaves = big
    for t in range(1, MAX + 1):
        root = root_of_leaves(leaves[:t])
        for n in range(t):
            proof = prove_inclusion(t, n, store.read)
            check_inclusion(proof, t, root, n, leaves[n])
            # wrong index, wrong leaf, truncated or padded proof (a wrong tree size may share the path shape,
            # so it is not a failure by itself: the size is bound by the signed checkpoint)
            for other in (n - 1, n + 1):
                if 0 <= other < t:
                    with pytest.raises(ProofError):
                        check_inclusion(proof, t, root, other, leaves[n])
                    with pytest.raises(ProofError):
                        check_inclusion(proof, t, root, n, leaves[other])
            if proof:
                with pytest.raises(ProofError):
                    check_inclusion(proof[:-1], t, root, n, leaves[n])
            if len(proof) > 1 and proof[0] != proof[-1]:
                with pytest.raises(ProofError):
                    check_inclusion(proof[::-1], t, root, n, leaves[n])
            with pytest.raises(ProofError):
                check_inclusion([*proof, leaves[0]], t, root, n, leaves[n])


def test_consistency_for_every_pair(big: tuple[MemoryHashStore, list[bytes]]) -> None:
    store, leaves = big
    roots = [root_of_leaves(leaves[:t]) for t in range(MAX + 1)]
    for t in range(1, MAX + 1):
        check_consistency([], t, roots[t], 0, EMPTY_ROOT)
        for n in range(1, t + 1):
            proof = prove_consistency(t, n, store.read)
            check_consistency(proof, t, roots[t], n, roots[n])
            if n == t:
                assert proof == []
            if n < t:
                with pytest.raises(ProofError):
                    check_consistency(proof, t, roots[t], n, roots[n + 1])
                with pytest.raises(ProofError):
                    check_consistency(proof, t, roots[n], n, roots[n])
            if proof:
                with pytest.raises(ProofError):
                    check_consistency(proof[:-1], t, roots[t], n, roots[n])
            with pytest.raises(ProofError):
                check_consistency([*proof, roots[1]], t, roots[t], n, roots[n])
            if n > 1:
                with pytest.raises(ProofError):
                    check_consistency(proof, t, roots[t], n - 1, roots[n - 1])


def test_compact_range_streams_many_entries() -> None:
    compact = CompactRange()
    leaves = []
    for i in range(300):
        compact.append_entry(i.to_bytes(4, "big"))
        leaves.append(leaf_hash(i.to_bytes(4, "big")))
    assert compact.root() == root_of_leaves(leaves)
    assert len(compact.hashes) <= 9
    with pytest.raises(ValueError):
        compact.append(b"\x00" * 31)


# --- refused inputs --------------------------------------------------------------------------------------


def test_check_inclusion_refuses_bad_inputs() -> None:
    leaf = leaf_hash(b"x")
    root = leaf
    check_inclusion([], 1, root, 0, leaf)
    bad_calls: list[tuple[Any, Any, Any, Any, Any]] = [
        ([], 1, root, 1, leaf),  # index outside the tree
        ([], 0, root, 0, leaf),  # empty tree
        ([], 1, root, -1, leaf),
        ([], 1, root[:31], 0, leaf),  # short root
        ([], 1, root, 0, leaf + b"\x00"),  # long leaf
        ([b"\x00" * 31], 2, root, 0, leaf),  # short proof hash
        ([b"\x00" * 33], 2, root, 0, leaf),
        (["00" * 32], 2, root, 0, leaf),  # hex text, not bytes
        (b"\x00" * 32, 2, root, 0, leaf),  # a single hash, not a list
        ([], True, root, 0, leaf),  # bool is not a size
        ([], 1, root, False, leaf),
        ([], 1.0, root, 0, leaf),
    ]
    for args in bad_calls:
        with pytest.raises(ProofError):
            check_inclusion(*args)


def test_check_consistency_refuses_bad_inputs() -> None:
    r1 = leaf_hash(b"x")
    check_consistency([], 1, r1, 1, r1)
    bad_calls: list[tuple[Any, Any, Any, Any, Any]] = [
        ([], 1, r1, 2, r1),  # old larger than new
        ([], 1, r1, -1, r1),
        ([], 1, r1, 0, r1),  # empty tree with a root that is not SHA-256("")
        ([r1], 1, r1, 0, EMPTY_ROOT),  # proof from the empty tree must be empty
        ([r1], 1, r1, 1, r1),  # same size needs an empty proof
        ([], 1, r1[:16], 1, r1[:16]),
        ([b"\x00" * 31], 2, r1, 1, r1),
        ([], True, r1, 1, r1),
    ]
    for args in bad_calls:
        with pytest.raises(ProofError):
            check_consistency(*args)


def test_prove_refuses_bad_sizes(big: tuple[MemoryHashStore, list[bytes]]) -> None:
    store = big[0]
    for t, n in [(0, 0), (3, 3), (3, -1), (-1, 0)]:
        with pytest.raises(ValueError):
            prove_inclusion(t, n, store.read)
    for t, n in [(0, 0), (3, 0), (3, 4), (-1, -1)]:
        with pytest.raises(ValueError):
            prove_consistency(t, n, store.read)
    with pytest.raises(TypeError):
        prove_inclusion("3", 0, store.read)  # type: ignore[arg-type]


def test_memory_store_errors() -> None:
    store = _store([b"a", b"b"])
    with pytest.raises(IndexError):
        store.read([99])
    with pytest.raises(ValueError):
        store.root(3)
    assert store.root(0) == EMPTY_ROOT
    with pytest.raises(ValueError):
        root_of_leaves([b"\x00" * 31])


def test_batched_inclusion_proofs_equal_single_ones() -> None:
    store = _store([b"entry %d" % i for i in range(40)])
    reads: list[int] = []

    def counting_read(indexes: Sequence[int]) -> list[bytes]:
        reads.append(len(indexes))
        return store.read(indexes)

    for t in range(1, 41):
        wanted = list(range(t))
        reads.clear()
        batched = prove_inclusions(t, wanted, counting_read)
        assert len(reads) == 1, "one read for all the proofs"
        assert batched == {n: prove_inclusion(t, n, store.read) for n in wanted}
    with pytest.raises(ValueError):
        prove_inclusions(5, [5], store.read)
    with pytest.raises(ValueError):
        prove_inclusions(0, [], store.read)
