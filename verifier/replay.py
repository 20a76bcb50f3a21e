"""Replaying a log: apply its entries in order and check every rule of docs/format.md on the way.

``LogState`` holds what the checks need and nothing else: the next index, the last entry hash, the Merkle tree's
right edge (a ``CompactRange``), the key history, the registered subjects, the latest entry concerning each
subject and every aggregate's version and rule state. ``apply`` checks one entry and raises
``VerificationError`` on its first failure; the state is unchanged when it raises.

Each entry is checked in this order (the first failure is reported):

1. ``malformed``: the entry bytes are not canonical JSON of the entry shape (verifier.entry.parse_entry);
2. ``index``: its index is the next one (contiguous from 0);
3. ``link``: ``prev`` is the hash of the previous entry;
4. ``origin``: the statement names this log;
5. ``malformed``: the statement and its signatures have their shape (parse_signed_statement);
6. ``unknown_key`` / ``revoked_key`` / ``signature``: each signature verifies with a key bound to its signer and
   valid at the entry's index (genesis: the log key, named in its body, which must be the auditor's);
7. ``rule``: the version is the aggregate's version + 1 (code ``version_conflict``) and the statement is legal
   (verifier.rules.apply; the code is the RuleViolation's);
8. ``subject_link``: ``links`` names exactly the subjects the statement concerns, each with the previous entry
   concerning it.

Checking signatures is the expensive part and needs no state but the public key: ``prepare`` does the stateless
work of an entry (parsing, hashing, the signed message) and ``apply`` accepts signature results computed ahead
of time (verifier.parallel does both on worker processes) for the public keys they were computed with; a result
is used only when its key is the one valid at the entry's index. ``apply_checked`` applies an entry that
already passed ``prepare`` elsewhere without repeating those checks.

Memory follows the live aggregates, not the log: an aggregate whose state is final (a contract withdrawn,
terminated or completed, a commitment kept or broken), on which the rules accept no statement any more, is kept
as its version and its state compressed, unpacked again only when something reads it (a later statement on it,
which the rules then refuse, or a repair looking at the record it concerns).
"""

from __future__ import annotations

import binascii
import zlib
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from types import MappingProxyType
from typing import Any

import nacl.bindings
import nacl.exceptions
import orjson

from verifier.entry import Entry, parse_entry
from verifier.errors import FormatError, RuleViolation, VerificationError, VerifierError
from verifier.hashing import entry_hash, leaf_hash
from verifier.identity import key_id
from verifier.keys import KeyHistory, KeyNotValidError
from verifier.merkle import CompactRange
from verifier.note import Verifier
from verifier.rules import (
    AggregateState,
    CommitmentState,
    ContractState,
    Facts,
    JudgmentRecord,
    MilestoneState,
    apply,
)
from verifier.rules.judgment import JudgmentState
from verifier.statement import (
    STATEMENT_DOMAIN,
    SignedStatement,
    b64decode,
    b64encode,
    parse_signed_statement,
)

__all__ = [
    "LogState",
    "Prepared",
    "RuleFailure",
    "check_signature",
    "prepare",
    "replay",
]

_STATEMENT_MEMBER = b'],"statement":{'
_EFFECT_TYPES = frozenset({"log.genesis", "key.bound", "key.revoked", "subject.registered"})


class RuleFailure(VerificationError):
    """A ``rule`` failure: the statement is not legal after the ones before it. ``code`` is the rule's code."""

    def __init__(self, code: str, message: str, *, index: int | None = None) -> None:
        super().__init__("rule", message, index=index, expected="a legal statement", found=code)
        self.code = code

    def to_dict(self) -> dict[str, Any]:
        """The error as a JSON-ready object, with the rule's ``code``."""
        out = super().to_dict()
        out["code"] = self.code
        return out


@dataclass(frozen=True, slots=True)
class Prepared:
    """The stateless part of checking one entry: parsed, hashed, its signed message cut out.

    ``error`` is the ``malformed`` failure found while parsing (raised by ``LogState.apply`` in its turn);
    ``entry`` and ``signed`` are None when parsing the entry failed, ``signed`` when the statement's shape did.
    """

    data: bytes
    entry: Entry | None
    signed: SignedStatement | None
    message: bytes
    entry_hash: bytes
    leaf_hash: bytes
    error: VerificationError | None


def _statement_bytes(data: bytes) -> bytes | None:
    """canonical(statement), cut out of canonical entry bytes (the statement is their last member), or None.

    After parse_entry the links hold integers and a valid signature object holds only strings, so the first
    ``]`` followed by the ``statement`` member ends the top-level signatures array; an entry whose signatures
    are shaped otherwise fails parse_signed_statement.
    """
    pos = data.find(_STATEMENT_MEMBER)
    return None if pos < 0 else data[pos + len(_STATEMENT_MEMBER) - 1 : -1]


def prepare(data: bytes, position: int | None = None) -> Prepared:
    """Do the stateless checks of one entry: canonical entry bytes, statement shape, hashes, signed message.

    ``position`` is the index the entry should have (used to name a malformed entry). Raises nothing: a
    malformed entry is returned with ``error`` set.
    """
    digest = entry_hash(data)
    leaf = leaf_hash(data)
    try:
        entry = parse_entry(data)
    except FormatError as e:
        err = VerificationError("malformed", f"entry {position}: {e}", index=position)
        return Prepared(data, None, None, b"", digest, leaf, err)
    statement_bytes = _statement_bytes(data)
    try:
        signed = parse_signed_statement(
            {"statement": entry.statement, "signatures": entry.signatures}, canonical=statement_bytes
        )
    except VerifierError as e:
        err = VerificationError("malformed", f"entry {entry.index}: {e}", index=entry.index)
        return Prepared(data, entry, None, b"", digest, leaf, err)
    return Prepared(data, entry, signed, signed.message(), digest, leaf, None)


def check_signature(message: bytes, sig: bytes, public_key: bytes) -> bool:
    """True when ``sig`` is a valid Ed25519 signature of ``message`` by ``public_key``. Raises nothing.

    Releases the GIL while verifying (it is safe to call from several threads).
    """
    try:
        nacl.bindings.crypto_sign_open(sig + message, public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError, TypeError):
        return False
    return True


@dataclass(slots=True)
class _Aggregate:
    version: int
    state: AggregateState | None


_CONTRACT, _COMMITMENT = 0, 1


def _final_tag(state: AggregateState) -> int | None:
    """The packing tag of a state the rules accept no statement after, None for any other state."""
    if isinstance(state, ContractState):
        return _CONTRACT if state.final else None
    if isinstance(state, CommitmentState):
        return _COMMITMENT if state.status in ("kept", "broken") else None
    return None


def _json_default(value: object) -> object:
    if isinstance(value, MappingProxyType):
        return dict(value)
    if isinstance(value, frozenset):
        return sorted(value)
    raise TypeError(type(value).__name__)


def _restore_contract(d: dict[str, Any]) -> ContractState:
    d["parties"] = tuple(d["parties"])
    d["consented"] = frozenset(d["consented"])
    d["milestones"] = MappingProxyType({k: MilestoneState(**m) for k, m in d["milestones"].items()})
    d["judgments"] = tuple(JudgmentRecord(**j) for j in d["judgments"])
    return ContractState(**d)


def _restore_commitment(d: dict[str, Any]) -> CommitmentState:
    return CommitmentState(**d)


_RESTORE: dict[int, Callable[[dict[str, Any]], AggregateState]] = {
    _CONTRACT: _restore_contract,
    _COMMITMENT: _restore_commitment,
}


class _Retired:
    """Final aggregate states: each one's version, tag and state as JSON, compressed by batches of ``_BATCH``
    (states of a kind share most of their text, so a batch compresses well). Reading one decompresses its batch.
    """

    __slots__ = ("_batches", "_ends", "_open", "_slots")

    _BATCH = 256

    def __init__(self) -> None:
        self._slots: dict[str, int] = {}  # aggregate -> slot; slot // _BATCH is its batch
        self._open: list[bytes] = []  # the batch being filled, not compressed yet
        self._batches: list[bytes] = []
        self._ends: list[array[int]] = []  # per compressed batch, where each item ends

    def __len__(self) -> int:
        return len(self._slots)

    def put(self, aggregate: str, version: int, tag: int, state: AggregateState) -> None:
        self._slots[aggregate] = len(self._batches) * self._BATCH + len(self._open)
        self._open.append(version.to_bytes(8, "big") + bytes((tag,)) + orjson.dumps(state, default=_json_default))
        if len(self._open) == self._BATCH:
            self._ends.append(array("I", accumulate(map(len, self._open))))
            self._batches.append(zlib.compress(b"".join(self._open), 1))
            self._open = []

    def get(self, aggregate: str) -> tuple[int, AggregateState] | None:
        slot = self._slots.get(aggregate)
        if slot is None:
            return None
        batch, k = divmod(slot, self._BATCH)
        if batch == len(self._batches):
            item = self._open[k]
        else:
            ends = self._ends[batch]
            item = zlib.decompress(self._batches[batch])[ends[k - 1] if k else 0 : ends[k]]
        return int.from_bytes(item[:8], "big"), _RESTORE[item[8]](orjson.loads(item[9:]))

    def pop(self, aggregate: str) -> None:
        self._slots.pop(aggregate, None)


class LogState:
    """The replayed state of a log after its first ``size`` entries. Pure: bytes in, state or exception out."""

    def __init__(self, log_verifier_key: str, *, entry_at: Callable[[int], bytes | None] | None = None) -> None:
        """Start before entry 0 of the log whose signed-note verifier key string is ``log_verifier_key``.

        Objections and repairs refer to earlier entries (docs/format-judgments.md). ``entry_at(i)`` reads back
        the bytes of an entry already applied (for instance from the bundle file by its offset), so memory stays
        flat; without it the state keeps each applied entry's statement and subjects in memory.

        Raises:
            VerificationError: ``kind="malformed"`` when the verifier key string does not parse.
        """
        try:
            verifier = Verifier.from_string(log_verifier_key)
        except FormatError as e:
            raise VerificationError("malformed", f"log verifier key: {e}") from e
        self.origin = verifier.name
        self.log_key = verifier.public_key
        self.size = 0
        self.last_hash: bytes | None = None
        self.tree = CompactRange()
        self.keys = KeyHistory()
        self.registered: set[str] = set()
        self.heads: dict[str, int] = {}
        self.aggregates: dict[str, _Aggregate] = {}  # live ones; final ones are in _retired
        self._retired = _Retired()
        self.operator = ""
        self.authority = ""
        self.subjects = 0
        self.contracts = 0
        self.commitments = 0
        self._entry_at = entry_at
        self._is_registered = self.registered.__contains__
        self._key_was_bound = self.keys.is_bound
        self._earlier: dict[int, tuple[Mapping[str, Any], tuple[str, ...]]] | None = None if entry_at else {}

    # -- reading ----------------------------------------------------------------------------------------------

    def root(self) -> bytes:
        """The Merkle root of the entries applied so far. Raises nothing."""
        return self.tree.root()

    def public_key(self, signer: str, key_id: str, index: int) -> bytes | None:
        """The public key ``key_id`` of ``signer`` valid at ``index``, or None. Raises nothing."""
        if index == 0:
            return self.log_key
        if not self.keys.is_valid(signer, key_id, index):
            return None
        return self.keys.key_at(signer, key_id, index)

    def aggregate(self, aggregate: str) -> tuple[int, AggregateState | None]:
        """(version, rule state) of an aggregate; (0, None) when it has no statements. Raises nothing."""
        rec = self.aggregates.get(aggregate)
        if rec is not None:
            return rec.version, rec.state
        return self._retired.get(aggregate) or (0, None)

    def key_records(self) -> list[dict[str, Any]]:
        """The derived key history in the bundle's ``keys`` line shape. Raises nothing."""
        return self.keys.records()

    # -- applying ---------------------------------------------------------------------------------------------

    def apply(self, item: bytes | Prepared, presigned: Mapping[int, tuple[bytes, bool]] | None = None) -> Entry:
        """Check the next entry and apply it; return it parsed.

        ``item`` is the entry bytes or their ``prepare`` result. ``presigned`` optionally maps a signature's
        position to ``(public key, valid)`` computed ahead of time; a result is used only when the key valid
        at the entry's index is that public key, otherwise the signature is verified here.

        Raises:
            VerificationError: the first failure, with ``index`` the entry's position and ``kind`` one of
                ``malformed``, ``index``, ``link``, ``origin``, ``unknown_key``, ``revoked_key``,
                ``signature``, ``rule`` (a RuleFailure carrying the code) or ``subject_link``. The state is
                unchanged.
        """
        p = item if isinstance(item, Prepared) else prepare(item, self.size)
        entry = p.entry
        if entry is None:
            assert p.error is not None
            raise VerificationError(p.error.kind, str(p.error), index=self.size)
        sigs = [(s.signer, s.key_id, s.sig) for s in p.signed.signatures] if p.signed is not None else []
        done = [presigned.get(i) for i in range(len(sigs))] if presigned else ()
        self._apply(entry.index, entry.prev, entry.links, entry.statement, sigs, p.data, p.message, p, done)
        return entry

    def apply_checked(self, data: bytes, hashes: bytes, presigned: Sequence[tuple[bytes, bool] | None]) -> None:
        """``apply`` for entry bytes that ``prepare`` found well-formed elsewhere (a worker, verifier.parallel):
        the bytes are parsed again but their shape is not checked again. ``hashes`` is ``entry hash || leaf
        hash`` as ``prepare`` computed them; ``presigned`` holds, for each signature in order, ``(public key,
        valid)`` computed ahead of time or None, used as in ``apply``.

        Only for such bytes: for anything else use ``apply``.

        Raises:
            VerificationError: as ``apply`` (never ``malformed`` for the shape of the entry or statement).
        """
        value = orjson.loads(data)
        sigs = [(s["signer"], s["key_id"], s["sig"]) for s in value["signatures"]]
        self._apply(
            value["index"], value["prev"], value["links"], value["statement"], sigs, data, b"", hashes, presigned
        )

    def _apply(
        self,
        found_index: int,
        prev_hex: str | None,
        links: Mapping[str, int | None],
        st: Mapping[str, Any],
        sigs: Sequence[tuple[str, str, bytes | str]],
        data: bytes,
        message: bytes,
        prepared: Prepared | bytes,
        presigned: Sequence[tuple[bytes, bool] | None],
    ) -> None:
        """The checks of ``apply`` from the index on. ``sigs`` are (signer, key id, signature bytes or their
        base64); ``message`` the signed message (empty: cut from ``data`` when needed); ``prepared`` the
        ``prepare`` result (its shape error raised in turn) or, for checked bytes, their two hashes."""
        index = self.size
        if found_index != index:
            raise VerificationError(
                "index",
                f"entry at position {index} has index {found_index}",
                index=index,
                expected=index,
                found=found_index,
            )
        prev = self.last_hash.hex() if self.last_hash is not None else None
        if prev_hex != prev:
            raise VerificationError(
                "link",
                f"entry {index}: prev is not the hash of entry {index - 1}",
                index=index,
                expected=prev,
                found=prev_hex,
            )
        origin = st.get("origin")
        if origin != self.origin:
            raise VerificationError(
                "origin",
                f"entry {index}: statement is for log {origin!r}, not {self.origin!r}",
                index=index,
                expected=self.origin,
                found=origin,
            )
        if isinstance(prepared, Prepared):
            if prepared.error is not None or prepared.signed is None:
                raise prepared.error or VerificationError("malformed", f"entry {index}: bad statement", index=index)
            entry_hash, leaf = prepared.entry_hash, prepared.leaf_hash
        else:
            entry_hash, leaf = prepared[:32], prepared[32:]
        stype: str = st["type"]
        if index == 0 and stype == "log.genesis":
            self._check_genesis_key(st["body"])
        self._check_signatures(index, sigs, data, message, presigned)
        aggregate: str = st["aggregate"]
        new_version: int = st["version"]
        rec = self.aggregates.get(aggregate)
        version, state = (rec.version, rec.state) if rec is not None else self.aggregate(aggregate)
        if new_version != version + 1:
            raise RuleFailure(
                "version_conflict",
                f"entry {index}: version {new_version} is not the next version of {aggregate} (now {version})",
                index=index,
            )
        if (index == 0) != (stype == "log.genesis"):
            raise RuleFailure(
                "genesis_not_first", f"entry {index}: the genesis statement is entry 0 and only it", index=index
            )
        try:
            outcome = apply(state, st, frozenset([s[0] for s in sigs]), self._facts(index))
        except RuleViolation as e:
            raise RuleFailure(e.code, f"entry {index}: {e}", index=index) from e
        except (FormatError, ValueError, KeyError, TypeError) as e:
            raise VerificationError("malformed", f"entry {index}: {e}", index=index) from e
        heads = self.heads
        expected_links = {s: heads.get(s) for s in outcome.concerns}
        if expected_links != links:
            raise VerificationError(
                "subject_link",
                f"entry {index}: links are not the previous entries concerning its subjects",
                index=index,
                expected=expected_links,
                found=dict(links),
            )
        if stype in _EFFECT_TYPES:
            self._effects(index, stype, st["body"])
        # everything checked: commit
        tag = _final_tag(outcome.state)
        if tag is not None:
            self._retired.put(aggregate, new_version, tag, outcome.state)
            if rec is not None:
                del self.aggregates[aggregate]
        elif rec is None:
            self.aggregates[aggregate] = _Aggregate(new_version, outcome.state)
            if version:
                self._retired.pop(aggregate)
        else:
            rec.version = new_version
            rec.state = outcome.state
        for s in outcome.concerns:
            heads[s] = index
        if stype == "contract.proposed" and isinstance(outcome.state, ContractState):
            self.contracts += 1
        elif stype == "commitment.made" and isinstance(outcome.state, CommitmentState):
            self.commitments += 1
        if self._earlier is not None:
            self._earlier[index] = (st, tuple(links))
        self.tree.append(leaf)
        self.last_hash = entry_hash
        self.size = index + 1

    def _check_signatures(
        self,
        index: int,
        sigs: Sequence[tuple[str, str, bytes | str]],
        data: bytes,
        message: bytes,
        presigned: Sequence[tuple[bytes, bool] | None],
    ) -> None:
        for pos, (signer, kid, sig) in enumerate(sigs):
            if index == 0:
                if kid != key_id(self.log_key):
                    raise VerificationError(
                        "unknown_key",
                        f"entry 0 is signed with the log key, not {kid}",
                        index=0,
                        expected=key_id(self.log_key),
                        found=kid,
                    )
                public_key = self.log_key
            else:
                try:
                    public_key = self.keys.key_at(signer, kid, index)
                except KeyNotValidError as e:
                    raise VerificationError(
                        e.reason,
                        f"entry {index}: {e}",
                        index=index,
                        expected=f"a key of {signer} valid at entry {index}",
                        found=kid,
                    ) from e
            done = presigned[pos] if pos < len(presigned) else None
            ok = done[1] if done is not None and done[0] == public_key else None
            if ok is None:
                if isinstance(sig, str):
                    sig = binascii.a2b_base64(sig)
                message = message or STATEMENT_DOMAIN + (_statement_bytes(data) or b"")
                ok = check_signature(message, sig, public_key)
            if not ok:
                raise VerificationError(
                    "signature",
                    f"entry {index}: signature by {signer} with key {kid} does not verify",
                    index=index,
                    expected=kid,
                    found=sig if isinstance(sig, str) else b64encode(sig),
                )

    def _check_genesis_key(self, body: Mapping[str, Any]) -> None:
        expected = b64encode(self.log_key)
        if body.get("log_key") != expected:
            raise VerificationError(
                "signature",
                "genesis names another log key than the auditor's",
                index=0,
                expected=expected,
                found=body.get("log_key"),
            )

    def _facts(self, index: int) -> Facts:
        is_valid = self.keys.is_valid
        return Facts(
            operator=self.operator,
            authority=self.authority,
            is_registered=self._is_registered,
            key_is_valid=lambda s, k: is_valid(s, k, index),
            key_was_bound=self._key_was_bound,
            judgment_exists=self._judgment_exists,
            index=index,
            earlier_entry=self._earlier_entry,
            aggregate_state=self._aggregate_state,
        )

    def _judgment_exists(self, aggregate: str) -> bool:
        return isinstance(self._aggregate_state(aggregate), JudgmentState)

    def _aggregate_state(self, aggregate: str) -> object | None:
        return self.aggregate(aggregate)[1]

    def _earlier_entry(self, index: int) -> tuple[Mapping[str, Any], tuple[str, ...]] | None:
        if not 0 <= index < self.size:
            return None
        if self._earlier is not None:
            return self._earlier.get(index)
        assert self._entry_at is not None
        data = self._entry_at(index)
        if data is None:
            return None
        entry = parse_entry(data)
        return entry.statement, tuple(entry.links)

    def _effects(self, index: int, t: str, body: Mapping[str, Any]) -> None:
        """Key and subject effects of an entry already found legal (a failure leaves the state unchanged)."""
        try:
            if t == "log.genesis":
                binds = [
                    (body[role]["subject"], b64decode(body[role]["public_key"], what=role, size=32))
                    for role in ("operator", "authority")
                ]
                for subject, pk in binds:
                    self.keys.bind(subject, key_id(pk), pk, index)
                self.operator = body["operator"]["subject"]
                self.authority = body["authority"]["subject"]
                self.registered.update((self.operator, self.authority))
                self.subjects += 2
            elif t == "key.bound":
                pk = b64decode(body["public_key"], what="public_key", size=32)
                self.keys.bind(body["subject"], body["key_id"], pk, index)
            elif t == "key.revoked":
                self.keys.revoke(body["subject"], body["key_id"], index)
            elif t == "subject.registered":
                self.registered.add(body["subject"])
                self.subjects += 1
        except RuleViolation as e:
            raise RuleFailure(e.code, f"entry {index}: {e}", index=index) from e
        except VerifierError as e:
            raise RuleFailure("key_not_valid", f"entry {index}: {e}", index=index) from e


def replay(entries: Sequence[bytes], log_verifier_key: str) -> LogState:
    """Replay whole entries from index 0 and return the state.

    Raises:
        VerificationError: the first failure (see ``LogState.apply``).
    """
    state = LogState(log_verifier_key)
    for data in entries:
        state.apply(data)
    return state
