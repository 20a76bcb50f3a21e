"""The log's Merkle tree: stored-hash layout, roots, inclusion and consistency proofs.

A port of Go's ``golang.org/x/mod/sumdb/tlog`` (tlog.go). Hashes are kept in the dense "stored hash" order of
Crosby and Wallach (section 3.3 of "Efficient Data Structures for Tamper-Evident Logging"): writing record
``n`` appends ``stored_hashes_for_record(n, ...)`` at ``stored_hash_index(0, n)``, so a database can hold the
tree incrementally and answer every root and proof with ``O(log n)`` reads. Proofs are the RFC 6962 / RFC 9162
ones and check with Go's ``tlog.CheckRecord`` and ``tlog.CheckTree`` unchanged.

One deliberate difference from Go: the root of the empty tree is ``SHA-256("")`` (docs/format.md, section 4),
where ``tlog.TreeHash(0)`` returns 32 zero bytes.

``CompactRange`` computes roots while streaming entries in ``O(log n)`` memory; ``root_of_leaves`` is the
plain recursive RFC 6962 definition, for tests and small inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from verifier.errors import ProofError
from verifier.hashing import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash

__all__ = [
    "CompactRange",
    "HashReader",
    "MemoryHashStore",
    "check_consistency",
    "check_inclusion",
    "prove_consistency",
    "prove_inclusion",
    "root_of_leaves",
    "split_stored_hash_index",
    "stored_hash_count",
    "stored_hash_index",
    "stored_hashes_for_record",
    "tree_hash",
]

HashReader = Callable[[Sequence[int]], Sequence[bytes]]
"""Reads stored hashes by stored hash index (Go's ``tlog.HashReader``), one hash per index, in order."""


def _maxpow2(n: int) -> tuple[int, int]:
    """Return ``(k, l)``: k the largest power of two smaller than n (n >= 2), ``k == 1 << l``."""
    level = (n - 1).bit_length() - 1
    return 1 << level, level


def _trailing_zeros(n: int) -> int:
    """Number of trailing zero bits of n > 0."""
    return (n & -n).bit_length() - 1


def _check_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return value


def stored_hash_index(level: int, n: int) -> int:
    """Map tree coordinates ``(level, n)`` to the dense stored-hash index (Go's ``StoredHashIndex``).

    Raises:
        ValueError: ``level`` or ``n`` is negative.
    """
    if level < 0 or n < 0:
        raise ValueError("level and n must be non-negative")
    # Level L's n'th hash is written right after level L+1's 2n+1'th hash: level times n -> 2n + 1.
    n = (n << level) | ((1 << level) - 1)
    # Level 0's n'th hash is written at n + n/2 + n/4 + ... = 2n - popcount(n).
    return 2 * n - n.bit_count() + level


def split_stored_hash_index(index: int) -> tuple[int, int]:
    """Return ``(level, n)`` for a stored-hash index; the inverse of ``stored_hash_index``.

    Raises:
        ValueError: ``index`` is negative.
    """
    if index < 0:
        raise ValueError("stored hash index must be non-negative")
    # stored_hash_index(0, n) < 2*n, so the n we want is in [index/2, index/2 + log2(index)].
    n = index // 2
    index_n = stored_hash_index(0, n)
    if index_n > index:  # pragma: no cover - impossible by the inequality above
        raise AssertionError("bad math in split_stored_hash_index")
    while True:
        # Each new record n adds 1 + trailing_zeros(n + 1) hashes.
        x = index_n + 1 + _trailing_zeros(n + 1)
        if x > index:
            break
        n += 1
        index_n = x
    # The hash was committed with record n: it is one of (0, n), (1, n/2), (2, n/4), ...
    level = index - index_n
    return level, n >> level


def stored_hash_count(n: int) -> int:
    """Return the number of stored hashes of a tree with ``n`` records (Go's ``StoredHashCount``).

    Raises:
        ValueError: ``n`` is negative.
    """
    if n < 0:
        raise ValueError("tree size must be non-negative")
    if n == 0:
        return 0
    num = stored_hash_index(0, n - 1) + 1
    i = n - 1
    while i & 1:
        num += 1
        i >>= 1
    return num


def _read(read: HashReader, indexes: Sequence[int]) -> list[bytes]:
    """Call the reader and check that it returned one 32-byte hash per index."""
    hashes = list(read(indexes))
    if len(hashes) != len(indexes):
        raise ValueError(f"hash reader returned {len(hashes)} hashes for {len(indexes)} indexes")
    for h in hashes:
        if not isinstance(h, (bytes, bytearray)) or len(h) != HASH_SIZE:
            raise ValueError("hash reader returned a value that is not a 32-byte hash")
    return [bytes(h) for h in hashes]


def stored_hashes_for_record(n: int, leaf: bytes, read: HashReader) -> list[bytes]:
    """Return the hashes to store when writing record ``n`` whose leaf hash is ``leaf``.

    They go at stored indexes ``stored_hash_index(0, n)`` onwards: the leaf hash, then the hash of every
    subtree record ``n`` completes. Reads up to ``log2 n`` earlier hashes
    (Go's ``StoredHashesForRecordHash``).

    Raises:
        ValueError: ``n`` is negative, ``leaf`` is not 32 bytes, or the reader returns the wrong number or
            size of hashes.
    """
    _check_int("n", n)
    if n < 0:
        raise ValueError("record index must be non-negative")
    if len(leaf) != HASH_SIZE:
        raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
    h = bytes(leaf)
    hashes = [h]
    m = _trailing_zeros(n + 1)
    indexes = [0] * m
    for i in range(m):
        indexes[m - 1 - i] = stored_hash_index(i, (n >> i) - 1)
    old = _read(read, indexes)
    for i in range(m):
        h = node_hash(old[m - 1 - i], h)
        hashes.append(h)
    return hashes


def _sub_tree_index(lo: int, hi: int, need: list[int]) -> list[int]:
    """Append the stored indexes needed for the hash of records ``[lo, hi)``."""
    while lo < hi:
        k, level = _maxpow2(hi - lo + 1)
        if lo & (k - 1):  # pragma: no cover - invariant
            raise AssertionError("bad math in _sub_tree_index")
        need.append(stored_hash_index(level, lo >> level))
        lo += k
    return need


def _sub_tree_hash(lo: int, hi: int, hashes: list[bytes]) -> tuple[bytes, list[bytes]]:
    """Hash of records ``[lo, hi)`` from the hashes read for ``_sub_tree_index``; return it and the rest."""
    num_tree = 0
    while lo < hi:
        k, _ = _maxpow2(hi - lo + 1)
        if lo & (k - 1) or lo >= hi:  # pragma: no cover - invariant
            raise AssertionError("bad math in _sub_tree_hash")
        num_tree += 1
        lo += k
    if len(hashes) < num_tree:  # pragma: no cover - invariant
        raise AssertionError("bad index math in _sub_tree_hash")
    h = hashes[num_tree - 1]
    for i in range(num_tree - 2, -1, -1):
        h = node_hash(hashes[i], h)
    return h, hashes[num_tree:]


def tree_hash(n: int, read: HashReader) -> bytes:
    """Return the root of the tree of the first ``n`` records from stored hashes (Go's ``TreeHash``).

    Makes one read of at most ``1 + log2 n`` hashes. The empty tree's root is ``EMPTY_ROOT``.

    Raises:
        ValueError: ``n`` is negative, or the reader returns the wrong number or size of hashes.
    """
    _check_int("n", n)
    if n < 0:
        raise ValueError("tree size must be non-negative")
    if n == 0:
        return EMPTY_ROOT
    indexes = _sub_tree_index(0, n, [])
    hashes = _read(read, indexes)
    h, rest = _sub_tree_hash(0, n, hashes)
    if rest:  # pragma: no cover - invariant
        raise AssertionError("bad index math in tree_hash")
    return h


def _leaf_proof_index(lo: int, hi: int, n: int, need: list[int]) -> list[int]:
    if not lo <= n < hi:  # pragma: no cover - invariant
        raise AssertionError("bad math in _leaf_proof_index")
    if lo + 1 == hi:
        return need
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        need = _leaf_proof_index(lo, lo + k, n, need)
        need = _sub_tree_index(lo + k, hi, need)
    else:
        need = _sub_tree_index(lo, lo + k, need)
        need = _leaf_proof_index(lo + k, hi, n, need)
    return need


def _leaf_proof(lo: int, hi: int, n: int, hashes: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    if not lo <= n < hi:  # pragma: no cover - invariant
        raise AssertionError("bad math in _leaf_proof")
    if lo + 1 == hi:
        return [], hashes
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        p, hashes = _leaf_proof(lo, lo + k, n, hashes)
        th, hashes = _sub_tree_hash(lo + k, hi, hashes)
    else:
        th, hashes = _sub_tree_hash(lo, lo + k, hashes)
        p, hashes = _leaf_proof(lo + k, hi, n, hashes)
    p.append(th)
    return p, hashes


def prove_inclusion(t: int, n: int, read: HashReader) -> list[bytes]:
    """Return the proof that the tree of size ``t`` contains record ``n`` (Go's ``ProveRecord``).

    Raises:
        ValueError: not ``0 <= n < t``, or the reader returns the wrong number or size of hashes.
    """
    _check_int("t", t)
    _check_int("n", n)
    if t < 0 or n < 0 or n >= t:
        raise ValueError(f"invalid inputs for an inclusion proof: record {n} in tree size {t}")
    indexes = _leaf_proof_index(0, t, n, [])
    if not indexes:
        return []
    hashes = _read(read, indexes)
    p, rest = _leaf_proof(0, t, n, hashes)
    if rest:  # pragma: no cover - invariant
        raise AssertionError("bad index math in prove_inclusion")
    return p


def prove_inclusions(t: int, indexes: Sequence[int], read: HashReader) -> dict[int, list[bytes]]:
    """Inclusion proofs of many records in the tree of size ``t`` at once: the same proofs as
    ``prove_inclusion`` (RFC 6962 PATH, the leaf's sibling first), with every stored hash they need read in one
    call and each interior hash on the tree's right edge computed once for all of them.

    Raises:
        ValueError: ``t`` is not positive, or an index is not in ``[0, t)``.
    """
    _size_arg("t", t)
    if t < 1:
        raise ValueError("tree size must be positive")
    for n in indexes:
        if not 0 <= _check_int("index", n) < t:
            raise ValueError(f"index {n} is not in a tree of size {t}")

    def path(m: int, lo: int, hi: int, out: list[tuple[int, int]]) -> None:
        while hi - lo > 1:  # iterative PATH(m, D[lo:hi]): siblings collected top-down, reversed at the end
            k, _ = _maxpow2(hi - lo)
            if m - lo < k:
                out.append((lo + k, hi))
                hi = lo + k
            else:
                out.append((lo, lo + k))
                lo = lo + k
        out.reverse()

    paths = {}
    for n in indexes:
        ranges: list[tuple[int, int]] = []
        path(n, 0, t, ranges)
        paths[n] = ranges

    def complete(lo: int, hi: int) -> int | None:
        """The stored hash index of the subtree [lo, hi) when it is a complete, aligned one, else None."""
        size = hi - lo
        if size & (size - 1) == 0 and lo % size == 0:
            level = size.bit_length() - 1
            n = ((lo >> level) << level) | (size - 1)
            return 2 * n - n.bit_count() + level
        return None

    needed: set[int] = set()

    def collect(lo: int, hi: int) -> None:
        stored = complete(lo, hi)
        if stored is not None:
            needed.add(stored)
            return
        k, _ = _maxpow2(hi - lo)
        collect(lo, lo + k)
        collect(lo + k, hi)

    for ranges in paths.values():
        for lo, hi in ranges:
            collect(lo, hi)
    order = sorted(needed)
    stored_hashes = dict(zip(order, _read(read, order), strict=True))
    memo: dict[tuple[int, int], bytes] = {}

    def subtree(lo: int, hi: int) -> bytes:
        stored = complete(lo, hi)
        if stored is not None:
            return stored_hashes[stored]
        found = memo.get((lo, hi))
        if found is None:
            k, _ = _maxpow2(hi - lo)
            found = memo[(lo, hi)] = node_hash(subtree(lo, lo + k), subtree(lo + k, hi))
        return found

    return {n: [subtree(lo, hi) for lo, hi in ranges] for n, ranges in paths.items()}


def _tree_proof_index(lo: int, hi: int, n: int, need: list[int]) -> list[int]:
    if not lo < n <= hi:  # pragma: no cover - invariant
        raise AssertionError("bad math in _tree_proof_index")
    if n == hi:
        if lo == 0:
            return need
        return _sub_tree_index(lo, hi, need)
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        need = _tree_proof_index(lo, lo + k, n, need)
        need = _sub_tree_index(lo + k, hi, need)
    else:
        need = _sub_tree_index(lo, lo + k, need)
        need = _tree_proof_index(lo + k, hi, n, need)
    return need


def _tree_proof(lo: int, hi: int, n: int, hashes: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    if not lo < n <= hi:  # pragma: no cover - invariant
        raise AssertionError("bad math in _tree_proof")
    if n == hi:
        if lo == 0:
            return [], hashes
        th, hashes = _sub_tree_hash(lo, hi, hashes)
        return [th], hashes
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        p, hashes = _tree_proof(lo, lo + k, n, hashes)
        th, hashes = _sub_tree_hash(lo + k, hi, hashes)
    else:
        th, hashes = _sub_tree_hash(lo, lo + k, hashes)
        p, hashes = _tree_proof(lo + k, hi, n, hashes)
    p.append(th)
    return p, hashes


def prove_consistency(t: int, n: int, read: HashReader) -> list[bytes]:
    """Return the proof that the tree of size ``t`` extends the tree of size ``n`` (Go's ``ProveTree``).

    The proof for ``n == t`` is empty.

    Raises:
        ValueError: not ``1 <= n <= t``, or the reader returns the wrong number or size of hashes.
    """
    _check_int("t", t)
    _check_int("n", n)
    if t < 1 or n < 1 or n > t:
        raise ValueError(f"invalid inputs for a consistency proof: old size {n}, new size {t}")
    indexes = _tree_proof_index(0, t, n, [])
    if not indexes:
        return []
    hashes = _read(read, indexes)
    p, rest = _tree_proof(0, t, n, hashes)
    if rest:  # pragma: no cover - invariant
        raise AssertionError("bad index math in prove_consistency")
    return p


def _proof_hashes(proof: Sequence[bytes], what: str) -> list[bytes]:
    """Check that a proof is a sequence of 32-byte hashes."""
    if isinstance(proof, (bytes, bytearray, str)):
        raise ProofError(f"{what} proof must be a sequence of hashes, not a single value")
    out = []
    for i, h in enumerate(proof):
        if not isinstance(h, (bytes, bytearray)) or len(h) != HASH_SIZE:
            raise ProofError(f"{what} proof hash {i} is not a {HASH_SIZE}-byte hash")
        out.append(bytes(h))
    return out


def _hash_arg(name: str, h: object) -> bytes:
    if not isinstance(h, (bytes, bytearray)) or len(h) != HASH_SIZE:
        raise ProofError(f"{name} is not a {HASH_SIZE}-byte hash")
    return bytes(h)


def _size_arg(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProofError(f"{name} must be an integer")
    return value


def _run_record_proof(p: list[bytes], lo: int, hi: int, n: int, leaf: bytes) -> bytes:
    if lo + 1 == hi:
        if p:
            raise ProofError("inclusion proof has unnecessary hashes")
        return leaf
    if not p:
        raise ProofError("inclusion proof is too short")
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        th = _run_record_proof(p[:-1], lo, lo + k, n, leaf)
        return node_hash(th, p[-1])
    th = _run_record_proof(p[:-1], lo + k, hi, n, leaf)
    return node_hash(p[-1], th)


def check_inclusion(proof: Sequence[bytes], t: int, root: bytes, n: int, leaf: bytes) -> None:
    """Check that ``proof`` shows the tree (``t``, ``root``) has leaf hash ``leaf`` at index ``n``.

    Go's ``tlog.CheckRecord``: the proof must have exactly the expected length.

    Raises:
        ProofError: the proof does not check, has the wrong length or hash sizes, or not ``0 <= n < t``.
    """
    t = _size_arg("tree size", t)
    n = _size_arg("record index", n)
    if t < 0 or n < 0 or n >= t:
        raise ProofError(f"invalid inputs for an inclusion proof: record {n} in tree size {t}")
    hashes = _proof_hashes(proof, "inclusion")
    root = _hash_arg("root", root)
    leaf = _hash_arg("leaf hash", leaf)
    if _run_record_proof(hashes, 0, t, n, leaf) != root:
        raise ProofError(f"inclusion proof for record {n} does not lead to the root of tree size {t}")


def _run_tree_proof(p: list[bytes], lo: int, hi: int, n: int, old: bytes) -> tuple[bytes, bytes]:
    if n == hi:
        if lo == 0:
            if p:
                raise ProofError("consistency proof has unnecessary hashes")
            return old, old
        if len(p) != 1:
            raise ProofError("consistency proof has the wrong length")
        return p[0], p[0]
    if not p:
        raise ProofError("consistency proof is too short")
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        oh, th = _run_tree_proof(p[:-1], lo, lo + k, n, old)
        return oh, node_hash(th, p[-1])
    oh, th = _run_tree_proof(p[:-1], lo + k, hi, n, old)
    return node_hash(p[-1], oh), node_hash(p[-1], th)


def check_consistency(proof: Sequence[bytes], t: int, root_t: bytes, n: int, root_n: bytes) -> None:
    """Check that ``proof`` shows the tree (``t``, ``root_t``) extends the tree (``n``, ``root_n``).

    Go's ``tlog.CheckTree``, extended to the empty old tree: for ``n == 0`` the proof must be empty and
    ``root_n`` must be ``EMPTY_ROOT`` (every tree extends the empty one). For ``n == t`` the proof is empty
    and the roots must be equal.

    Raises:
        ProofError: the proof does not check, has the wrong length or hash sizes, or not ``0 <= n <= t``.
    """
    t = _size_arg("new tree size", t)
    n = _size_arg("old tree size", n)
    if n < 0 or t < 0 or n > t:
        raise ProofError(f"invalid inputs for a consistency proof: old size {n}, new size {t}")
    hashes = _proof_hashes(proof, "consistency")
    root_t = _hash_arg("new root", root_t)
    root_n = _hash_arg("old root", root_n)
    if n == 0:
        if hashes:
            raise ProofError("consistency proof from the empty tree must be empty")
        if root_n != EMPTY_ROOT:
            raise ProofError("the root of the empty tree is not SHA-256 of the empty string")
        return
    old, new = _run_tree_proof(hashes, 0, t, n, root_n)
    if old != root_n or new != root_t:
        raise ProofError(f"consistency proof from tree size {n} to {t} does not check")


class CompactRange:
    """The right edge of a growing tree: root of every prefix while streaming leaves, in O(log n) memory.

    ``hashes`` holds the roots of the perfect subtrees that make up the first ``size`` leaves, largest first
    (one per set bit of ``size``).
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        """Start with the empty tree."""
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        """Number of leaves appended."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees covering the leaves so far, largest (leftmost) first."""
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> None:
        """Append a leaf hash (``leaf_hash(E)``).

        Raises:
            ValueError: ``leaf`` is not 32 bytes.
        """
        if not isinstance(leaf, (bytes, bytearray)) or len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
        h = bytes(leaf)
        n = self._size
        while n & 1:
            h = node_hash(self._hashes.pop(), h)
            n >>= 1
        self._hashes.append(h)
        self._size += 1

    def append_entry(self, entry_bytes: bytes) -> None:
        """Append an entry by its bytes (hashes it as a leaf first).

        Raises:
            TypeError: ``entry_bytes`` is not bytes.
        """
        self.append(leaf_hash(entry_bytes))

    def root(self) -> bytes:
        """Return the root of the leaves appended so far (``EMPTY_ROOT`` when none). Raises nothing."""
        if not self._hashes:
            return EMPTY_ROOT
        h = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            h = node_hash(left, h)
        return h


def root_of_leaves(leaves: Sequence[bytes]) -> bytes:
    """Return the RFC 6962 Merkle tree hash of a list of leaf hashes (already ``leaf_hash``-ed).

    The plain recursive definition, for tests and small inputs; ``EMPTY_ROOT`` for no leaves.

    Raises:
        ValueError: a leaf hash is not 32 bytes.
    """
    for h in leaves:
        if len(h) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
    if not leaves:
        return EMPTY_ROOT

    def mth(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return bytes(leaves[lo])
        k, _ = _maxpow2(hi - lo)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return mth(0, len(leaves))


class MemoryHashStore:
    """Stored hashes in a list: the reference in-memory tree (for tests and small logs)."""

    def __init__(self) -> None:
        """Start with the empty tree."""
        self.hashes: list[bytes] = []
        self.size = 0

    def read(self, indexes: Sequence[int]) -> list[bytes]:
        """A ``HashReader``: return the stored hashes at ``indexes``.

        Raises:
            IndexError: an index is not stored yet.
        """
        out = []
        for i in indexes:
            if i < 0 or i >= len(self.hashes):
                raise IndexError(f"stored hash {i} is not present")
            out.append(self.hashes[i])
        return out

    def append_leaf(self, leaf: bytes) -> None:
        """Append a record by its leaf hash.

        Raises:
            ValueError: ``leaf`` is not 32 bytes.
        """
        self.hashes.extend(stored_hashes_for_record(self.size, leaf, self.read))
        self.size += 1

    def append_entry(self, entry_bytes: bytes) -> None:
        """Append a record by its entry bytes.

        Raises:
            TypeError: ``entry_bytes`` is not bytes.
        """
        self.append_leaf(leaf_hash(entry_bytes))

    def root(self, n: int | None = None) -> bytes:
        """Root of the first ``n`` records (all by default).

        Raises:
            ValueError: ``n`` is negative or larger than the store.
        """
        if n is None:
            n = self.size
        if n > self.size:
            raise ValueError(f"tree size {n} is larger than the store ({self.size})")
        return tree_hash(n, self.read)
