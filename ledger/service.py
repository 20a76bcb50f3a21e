"""The Ledger: the one facade the command line, the API, projections and the demo use.

Submitting a statement: parse it (400), check its origin, verify every signature against the signer's key as
bound now (401), check its version against the aggregate's (409) and apply the rules of ``verifier.rules`` to the
aggregate's state (422) — each rule written once, in the verifier — then append it through the recorder, which
chains it inside its insert transaction. Nothing is stored unless every statement of a batch passes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Literal
from uuid import UUID

import orjson
from eventsourcing.persistence import IntegrityError, PersistenceError

from ledger.errors import (
    BadSignature,
    Forbidden,
    LedgerError,
    MalformedInput,
    NotFound,
    RuleRejected,
    VersionConflict,
)
from ledger.platform import AUTHORITY_NAME, OPERATOR_NAME, PlatformKeys
from ledger.settings import Settings
from ledger.side_thread import SideThread
from ledger.store import open_recorder
from ledger.store.base import LedgerStore
from ledger.store.chain import Appended, Pending
from verifier.checkpoint import Checkpoint, merge_cosignatures, sign_checkpoint, verify_checkpoint
from verifier.entry import parse_entry
from verifier.errors import FormatError, RuleViolation, SignatureError, VerificationError, VerifierError
from verifier.identity import key_id, log_aggregate
from verifier.merkle import prove_consistency, prove_inclusion, prove_inclusions, tree_hash
from verifier.proof_file import format_proof_file
from verifier.receipt import make_receipt
from verifier.rules import Facts, JudgmentState, apply
from verifier.statement import (
    SignedStatement,
    b64decode,
    b64encode,
    make_statement,
    parse_signed_statement,
    sign_statement,
    verify_signature,
)

Receipt = dict[str, Any]
MAX_CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of the log's clock a statement's time may be
_SignatureJob = tuple[int, bytes, bytes, bytes, str, str]  # item, message, signature, public key, key id, signer
_PARALLEL_VERIFY = 2  # at least this many signatures are shared with a second thread
STATE_CACHE = 200_000  # aggregate states kept in memory


@dataclass
class _Prepared:
    signed: SignedStatement
    state: Any
    pending: Pending


@dataclass
class _BatchFacts:
    """Subjects registered and keys bound or revoked by earlier statements of the batch being checked."""

    registered: set[str] = field(default_factory=set)
    keys: dict[tuple[str, str], bool] = field(default_factory=dict)
    position: int = 0  # the statement's position in the batch

    def absorb(self, pending: Pending) -> None:
        self.position += 1
        self.registered.update(subject for subject, _ in pending.registers)
        self.keys.update(((subject, key_id), True) for subject, key_id, _ in pending.binds)
        self.keys.update(((subject, key_id), False) for subject, key_id in pending.revokes)


class Ledger:
    """A lvyue log over an eventsourcing event store (SQLite file by default, PostgreSQL by URL)."""

    def __init__(self, settings: Settings, store: LedgerStore, platform: PlatformKeys) -> None:
        self.settings = settings
        self.store = store
        self.platform = platform
        self.origin = platform.origin
        self.verifier_key = platform.verifier_key
        self.operator = platform.operator.subject
        self.authority = platform.authority.subject
        self._states: dict[str, tuple[int, Any]] = {}
        self._issued_at = float("-inf")  # time.monotonic() when this process last issued a checkpoint
        self._keys: dict[tuple[str, str], tuple[bytes, int, int | None]] = {}
        self._registered: set[str] = set()
        self._lock = threading.Lock()
        self._log_signer = platform.signer()
        self._known_size = 0  # a lower bound of the log's size, raised as entries are seen
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lvyue-verify")
        self._receipt_thread: SideThread[Appended, Receipt] = SideThread(self._receipt, "lvyue-receipts")

    # -- opening -----------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings | None = None) -> Ledger:
        """Open (creating if needed) the store named by ``settings``; write the genesis entry into an empty log.

        Raises:
            LedgerError: the store's genesis was written with other platform keys.
        """
        settings = settings or Settings.from_env()
        platform = PlatformKeys.load_or_create(settings.data_dir, settings.origin)
        store = open_recorder(settings)
        ledger = cls(settings, store, platform)
        ledger._known_size = store.size()
        if ledger._known_size == 0:
            ledger._write_genesis()
        ledger._check_genesis()
        return ledger

    def _genesis_statement(self) -> dict[str, Any]:
        p = self.platform
        body = {
            "log_key": b64encode(p.log_public_key),
            "operator": {
                "subject": p.operator.subject,
                "name": OPERATOR_NAME,
                "public_key": b64encode(p.operator.public_key),
            },
            "authority": {
                "subject": p.authority.subject,
                "name": AUTHORITY_NAME,
                "public_key": b64encode(p.authority.public_key),
            },
        }
        statement = make_statement(
            "log.genesis",
            self.origin,
            p.operator.subject,
            key_id(p.log_public_key),
            log_aggregate(self.origin),
            1,
            _statement_time(),
            body,
        )
        return {
            "statement": statement,
            "signatures": [sign_statement(statement, p.operator.subject, p.log_seed)],
        }

    def _write_genesis(self) -> None:
        signed = parse_signed_statement(self._genesis_statement())
        body = signed.body
        pending = Pending(
            originator_id=UUID(signed.aggregate),
            version=1,
            statement=signed.statement,
            signatures=[s.to_dict() for s in signed.signatures],
            concerns=tuple(sorted({body["operator"]["subject"], body["authority"]["subject"]})),
            binds=tuple(
                (
                    body[role]["subject"],
                    _key_id(body[role]["public_key"]),
                    b64decode(body[role]["public_key"], what=role),
                )
                for role in ("operator", "authority")
            ),
            registers=(
                (body["operator"]["subject"], "institution"),  # 信用中心, a public institution (事业单位)
                (body["authority"]["subject"], "government"),
            ),
        )
        # Another process may have written genesis first; _check_genesis then compares it with our keys.
        with contextlib.suppress(IntegrityError, RuleRejected):
            self.store.append([pending])

    def _check_genesis(self) -> None:
        entry = parse_entry(self.store.entry(0))
        body = entry.statement["body"]
        if body["log_key"] != b64encode(self.platform.log_public_key) or entry.statement["origin"] != self.origin:
            raise LedgerError("the store's genesis names another log key or origin", code="genesis_mismatch")

    def close(self) -> None:
        """Release the store's connections."""
        self._pool.shutdown(wait=False)
        self._receipt_thread.close()
        closer = getattr(self.store, "datastore", None)
        if closer is not None:
            closer.close()

    # -- submitting --------------------------------------------------------------------------------------------

    def submit(self, signed: Mapping[str, Any]) -> Receipt:
        """Check and append one signed statement; return its receipt.

        Raises:
            MalformedInput, BadSignature, VersionConflict, RuleRejected: and nothing is stored.
        """
        return self.submit_batch([signed])[0]

    def submit_batch(self, items: Sequence[Mapping[str, Any]]) -> list[Receipt]:
        """Check and append signed statements in one transaction, all or nothing; return their receipts.

        Raises:
            MalformedInput, BadSignature, VersionConflict, RuleRejected: the error names the item (``item``);
                nothing of the batch is stored.
        """
        if not items:
            raise MalformedInput("empty batch", code="empty_batch")
        checked = self._check_each(items, all_or_nothing=True)
        return self._append([p for p in checked if isinstance(p, _Prepared)])

    def submit_each(self, items: Sequence[Mapping[str, Any]]) -> list[Receipt | LedgerError]:
        """Check independent signed statements and append those that pass in one transaction (group commit):
        for each item its receipt, or the error that refused it. A statement never depends on one refused
        before it in the same call (it is checked as if that one had not been sent)."""
        checked = self._check_each(items, all_or_nothing=False)
        good = [p for p in checked if isinstance(p, _Prepared)]
        if not good:
            return [c for c in checked if isinstance(c, LedgerError)]
        try:
            receipts = iter(self._append(good))
            return [next(receipts) if isinstance(c, _Prepared) else c for c in checked]
        except LedgerError:
            if len(good) == 1:
                raise
        # Something changed under the group (another process, a revocation): each on its own, to say which.
        out: list[Receipt | LedgerError] = []
        for item, c in zip(items, checked, strict=True):
            if isinstance(c, LedgerError):
                out.append(c)
                continue
            try:
                out.append(self.submit_batch([item])[0])
            except LedgerError as e:
                out.append(e)
        return out

    def _append(self, prepared: Sequence[_Prepared]) -> list[Receipt]:
        """Store the checked statements and return their receipts.

        The receipts of the first half are signed on a side thread while the commit waits on the disk (both
        release the GIL), the rest on this thread after it; none leaves here unless the commit succeeded."""
        ahead: list[Callable[[], list[Receipt]]] = []

        def before_commit(appended: list[Appended]) -> None:
            ahead.append(self._receipt_thread.start(appended[: (len(appended) + 1) // 2]))

        try:
            appended = self.store.append([p.pending for p in prepared], before_commit=before_commit)
        except IntegrityError as e:
            with self._lock:
                for p in prepared:
                    self._states.pop(p.signed.aggregate, None)
            raise VersionConflict(
                "an aggregate changed concurrently: its version is taken", code="version_conflict"
            ) from e
        except BadSignature:
            self._keys.clear()
            raise
        except PersistenceError as e:
            raise LedgerError(f"the event store failed: {e}", code="store_error") from e
        with self._lock:
            for p in prepared:
                self._remember(p.signed.aggregate, p.signed.version, p.state)
            self._known_size = max(self._known_size, appended[-1].index + 1)
        first = ahead[0]()
        return first + self._receipts(appended[len(first) :])

    def _receipts(self, appended: Sequence[Appended]) -> list[Receipt]:
        return [self._receipt(a) for a in appended]

    def _check_each(self, items: Sequence[Mapping[str, Any]], *, all_or_nothing: bool) -> list[_Prepared | LedgerError]:
        """Parse, verify and rule-check each item, in order. With ``all_or_nothing`` the first refusal is raised;
        otherwise each refused item gets its error and the others are checked as if it had not been sent."""
        results: list[_Prepared | LedgerError | None] = [None] * len(items)

        def refuse(i: int, error: LedgerError) -> None:
            if all_or_nothing:
                raise error
            results[i] = error

        parsed: list[SignedStatement | None] = []
        for i, item in enumerate(items):
            try:
                parsed.append(self._parse(i, item))
            except LedgerError as e:
                parsed.append(None)
                refuse(i, e)
        jobs = self._signature_jobs(parsed, refuse)
        failures = self._check_signatures(jobs)
        for i in sorted(failures):
            refuse(i, failures[i])
        overlay: dict[str, tuple[int, Any]] = {}
        batch = _BatchFacts()
        for i, signed in enumerate(parsed):
            if signed is None or results[i] is not None:
                continue
            try:
                prepared = self._check_rules(i, signed, overlay, batch)
            except LedgerError as e:
                refuse(i, e)
                continue
            batch.absorb(prepared.pending)
            results[i] = prepared
        return [r for r in results if r is not None]

    def _parse(self, item_no: int, item: Mapping[str, Any]) -> SignedStatement:
        try:
            signed = parse_signed_statement(item)
        except VerifierError as e:
            raise MalformedInput(str(e), code="malformed", item=item_no) from None
        if signed.origin != self.origin:
            raise RuleRejected(
                f"statement is for log {signed.origin!r}, this is {self.origin!r}",
                code="wrong_origin",
                item=item_no,
            )
        if signed.type == "log.genesis":
            raise RuleRejected("genesis is written by the log itself", code="genesis_not_first", item=item_no)
        made = datetime.fromisoformat(str(signed.statement["time"]).replace("Z", "+00:00"))
        if made > datetime.now(UTC) + MAX_CLOCK_SKEW:
            raise RuleRejected(
                f"statement time {signed.statement['time']} is in the future", code="time_in_future", item=item_no
            )
        return signed

    def _public_key(self, signer: str, key_id: str, item_no: int) -> bytes:
        cached = self._keys.get((signer, key_id))
        if cached is None:
            row = self.store.key(signer, key_id)
            if row is None:
                raise BadSignature(
                    f"no key {key_id} is bound to {signer}",
                    code="unknown_key",
                    item=item_no,
                    signer=signer,
                    key_id=key_id,
                )
            cached = row
            self._keys[(signer, key_id)] = row
        if cached[2] is not None:
            raise BadSignature(
                f"key {key_id} of {signer} was revoked by entry {cached[2]}",
                code="revoked_key",
                item=item_no,
                signer=signer,
                key_id=key_id,
            )
        return cached[0]

    def _signature_jobs(
        self, parsed: Sequence[SignedStatement | None], refuse: Callable[[int, LedgerError], None]
    ) -> list[_SignatureJob]:
        """Each signature to verify, with the public key its signer's key id names (unknown or revoked keys are
        refused here)."""
        batch_keys: dict[tuple[str, str], bytes | None] = {}  # keys bound (or revoked: None) earlier in the batch
        jobs: list[_SignatureJob] = []
        for i, signed in enumerate(parsed):
            if signed is None:
                continue
            message = signed.message()
            try:
                item_jobs = [
                    (
                        i,
                        message,
                        sig.sig,
                        self._batch_key(batch_keys, sig.signer, sig.key_id, i),
                        sig.key_id,
                        sig.signer,
                    )
                    for sig in signed.signatures
                ]
            except LedgerError as e:
                refuse(i, e)
                continue
            jobs.extend(item_jobs)
            body = signed.body
            if signed.type == "key.bound" and isinstance(body.get("public_key"), str):
                batch_keys[(body["subject"], body["key_id"])] = b64decode(body["public_key"], what="public_key")
            elif signed.type == "key.revoked":
                batch_keys[(body["subject"], body["key_id"])] = None
        return jobs

    def _check_signatures(self, jobs: Sequence[_SignatureJob]) -> dict[int, LedgerError]:
        """Verify the signatures (on two threads when there are many); return the failures by item."""
        failures: dict[int, LedgerError] = {}

        def check(job: _SignatureJob) -> None:
            i, message, sig, public_key, key_id, signer = job
            try:
                verify_signature(message, sig, public_key, key_id=key_id, signer=signer)
            except SignatureError as e:
                failures.setdefault(i, BadSignature(str(e), code="bad_signature", item=i, signer=signer, key_id=key_id))

        self._in_two(check, jobs)
        return failures

    def _batch_key(
        self, batch_keys: Mapping[tuple[str, str], bytes | None], signer: str, key_id: str, item_no: int
    ) -> bytes:
        if (signer, key_id) not in batch_keys:
            return self._public_key(signer, key_id, item_no)
        public_key = batch_keys[(signer, key_id)]
        if public_key is None:
            raise BadSignature(
                f"key {key_id} of {signer} is revoked earlier in this batch",
                code="revoked_key",
                item=item_no,
                signer=signer,
                key_id=key_id,
            )
        return public_key

    def _in_two(self, work: Callable[[Any], None], jobs: Sequence[Any]) -> None:
        """Run ``work`` on every job: half on a pool thread, half on this one (PyNaCl releases the GIL)."""
        if len(jobs) < _PARALLEL_VERIFY:
            for job in jobs:
                work(job)
            return
        half = len(jobs) // 2

        def first_half() -> None:
            for job in jobs[:half]:
                work(job)

        future = self._pool.submit(first_half)
        try:
            for job in jobs[half:]:
                work(job)
        finally:
            future.result()

    def _facts(self, batch: _BatchFacts, overlay: Mapping[str, tuple[int, Any]] | None = None) -> Facts:
        def is_registered(subject: str) -> bool:
            return subject in batch.registered or self.is_registered(subject)

        def key_is_valid(subject: str, key_id: str) -> bool:
            if (subject, key_id) in batch.keys:
                return batch.keys[(subject, key_id)]
            return self._key_is_valid(subject, key_id)

        def key_was_bound(subject: str, key_id: str) -> bool:
            return (subject, key_id) in batch.keys or self.store.key(subject, key_id) is not None

        return Facts(
            operator=self.operator,
            authority=self.authority,
            is_registered=is_registered,
            key_is_valid=key_is_valid,
            key_was_bound=key_was_bound,
            # A lower bound of the index the statement will get (the log only grows): a reference to an
            # earlier entry is checked against it.
            index=self._known_size + batch.position,
            **self._casework_facts(overlay or {}),
        )

    def _casework_facts(self, overlay: Mapping[str, tuple[int, Any]]) -> dict[str, Any]:
        """Facts for judgments, objections and repairs (docs/format-judgments.md): other aggregates' states
        (earlier statements of the batch first) and earlier entries."""

        def aggregate_state(aggregate: str) -> object | None:
            found: object | None = overlay[aggregate][1] if aggregate in overlay else self.aggregate(aggregate)[1]
            return found

        def earlier_entry(index: int) -> tuple[Mapping[str, Any], tuple[str, ...]] | None:
            try:
                entry = parse_entry(self.entry(index))
            except NotFound:
                return None
            return entry.statement, tuple(entry.links)

        return {
            "aggregate_state": aggregate_state,
            "earlier_entry": earlier_entry,
            "judgment_exists": lambda aggregate: isinstance(aggregate_state(aggregate), JudgmentState),
        }

    def _facts_at(self, index: int) -> Facts:
        """The facts as they stood when entry ``index`` was appended (for re-applying stored statements)."""

        def is_registered(subject: str) -> bool:
            row = self.store.subject(subject)
            return row is not None and row[1] < index

        def key_is_valid(subject: str, key_id: str) -> bool:
            row = self.store.key(subject, key_id)
            return row is not None and row[1] < index and (row[2] is None or index <= row[2])

        def key_was_bound(subject: str, key_id: str) -> bool:
            row = self.store.key(subject, key_id)
            return row is not None and row[1] < index

        return Facts(
            self.operator,
            self.authority,
            is_registered=is_registered,
            key_is_valid=key_is_valid,
            key_was_bound=key_was_bound,
            index=index,
        )

    def is_registered(self, subject: str) -> bool:
        """True when ``subject`` is registered in the log (genesis subjects included)."""
        if subject in self._registered:
            return True
        if self.store.subject(subject) is not None:
            self._registered.add(subject)
            return True
        return False

    def _key_is_valid(self, subject: str, key_id: str) -> bool:
        row = self.store.key(subject, key_id)
        return row is not None and row[2] is None

    def _check_rules(
        self, item_no: int, signed: SignedStatement, overlay: dict[str, tuple[int, Any]], batch: _BatchFacts
    ) -> _Prepared:
        aggregate = signed.aggregate
        version, state = overlay.get(aggregate) or self._state_before(aggregate, signed.version)
        if signed.version != version + 1:
            raise VersionConflict(
                f"statement version {signed.version} is not the next version of {aggregate} (now {version})",
                code="version_conflict",
                item=item_no,
                expected=version + 1,
                found=signed.version,
            )
        try:
            outcome = apply(state, signed.statement, signed.signers, self._facts(batch, overlay))
        except RuleViolation as e:
            raise RuleRejected(str(e), code=e.code, item=item_no) from None
        except FormatError as e:
            raise MalformedInput(str(e), code="malformed", item=item_no) from None
        overlay[aggregate] = (signed.version, outcome.state)
        body = signed.body
        binds: tuple[tuple[str, str, bytes], ...] = ()
        revokes: tuple[tuple[str, str], ...] = ()
        registers: tuple[tuple[str, str], ...] = ()
        if signed.type == "key.bound":
            binds = ((body["subject"], body["key_id"], b64decode(body["public_key"], what="public_key", size=32)),)
        elif signed.type == "key.revoked":
            revokes = ((body["subject"], body["key_id"]),)
        elif signed.type == "subject.registered":
            registers = ((body["subject"], body["kind"]),)
        pending = Pending(
            originator_id=UUID(aggregate),
            version=signed.version,
            statement=signed.statement,
            signatures=[s.to_dict() for s in signed.signatures],
            concerns=outcome.concerns,
            binds=binds,
            revokes=revokes,
            registers=registers,
            statement_bytes=signed.canonical or None,
        )
        return _Prepared(signed, outcome.state, pending)

    def _state_before(self, aggregate: str, version: int) -> tuple[int, Any]:
        """The state a statement of ``version`` applies to: the cache when it is exactly one behind, nothing at
        all for a statement creating a new aggregate (if another process created it meanwhile, the insert meets
        the taken version and the statement is refused as a conflict), else the store's latest."""
        with self._lock:
            cached = self._states.get(aggregate)
        if cached is not None and cached[0] == version - 1:
            return cached
        if cached is None and version == 1:
            return 0, None
        return self.aggregate(aggregate)

    def aggregate(self, aggregate: str) -> tuple[int, Any]:
        """(version, rule state) of an aggregate as the store has it now; (0, None) when it has no statements.

        Only statements newer than the cached state are read.
        """
        with self._lock:
            version, state = self._states.get(aggregate, (0, None))
        try:
            rows = self.store.select_entry_states(UUID(aggregate), gt=version)
        except ValueError:
            return 0, None
        for data in rows:
            entry = parse_entry(data)
            signers = frozenset(str(s["signer"]) for s in entry.signatures)
            if entry.statement["type"] == "log.genesis":
                version, state = 1, None
                continue
            state = apply(state, entry.statement, signers, self._facts_at(entry.index)).state
            version = int(entry.statement["version"])
        with self._lock:
            self._remember(aggregate, version, state)
        return version, state

    def _remember(self, aggregate: str, version: int, state: Any) -> None:
        """Cache an aggregate's state (call with the lock held); the oldest entries go past STATE_CACHE."""
        self._states.pop(aggregate, None)
        self._states[aggregate] = (version, state)
        if len(self._states) > STATE_CACHE:
            del self._states[next(iter(self._states))]

    def version(self, aggregate: str) -> int:
        """The aggregate's current version (0 when it does not exist): a new statement on it carries version + 1."""
        return self.aggregate(aggregate)[0]

    def submit_as_platform(
        self, role: Literal["operator", "authority"], type: str, aggregate: str, body: Mapping[str, Any]
    ) -> Receipt:
        """Sign a statement with the platform's own operator or authority key and submit it.

        Raises:
            LedgerError: as ``submit``.
        """
        key = self.platform.operator if role == "operator" else self.platform.authority
        for _attempt in range(5):
            version = self.version(aggregate)
            statement = make_statement(
                type, self.origin, key.subject, key.key_id, aggregate, version + 1, _statement_time(), body
            )
            signed = {
                "statement": statement,
                "signatures": [sign_statement(statement, key.subject, key.seed)],
            }
            try:
                return self.submit(signed)
            except VersionConflict:
                continue
        raise VersionConflict(f"{aggregate} keeps changing; try again", code="version_conflict")

    def _receipt(self, appended: Appended) -> Receipt:
        return make_receipt(self.origin, appended.index, appended.entry_hash, self._log_signer)

    # -- reading the log ---------------------------------------------------------------------------------------

    def size(self) -> int:
        """The number of entries."""
        return self.store.size()

    def entry(self, index: int) -> bytes:
        """The bytes of entry ``index``.

        Raises:
            NotFound: no such entry.
        """
        if index < 0:
            raise NotFound(f"no entry {index}", code="no_entry")
        return self.store.entry(index)

    def entries(self, start: int, stop: int) -> Iterator[tuple[int, bytes]]:
        """Entries ``start`` .. ``stop - 1`` as (index, bytes)."""
        return self.store.entries(max(start, 0), stop)

    def checkpoint(self, *, issue: bool = True, fallback: bool = False, freshness: float = 0.0) -> str:
        """The latest signed checkpoint, issuing a new one first when the tree has grown (and ``issue``).

        With ``freshness`` (seconds), the latest is returned as it is while this process issued one less than
        that long ago: readers polling under a steady write load then add at most one write per interval. With
        ``fallback``, when the store cannot take the new checkpoint in time (the writers hold it), the latest
        one already issued is returned instead of raising."""
        latest = self.store.latest_checkpoint()
        if latest is not None and (not issue or time.monotonic() - self._issued_at < freshness):
            return latest[1]
        size = self.size()
        if latest is not None and latest[0] == size:
            return latest[1]
        root = tree_hash(size, self.store.read_hashes)
        note = sign_checkpoint(Checkpoint(self.origin, size, root), self._log_signer)
        try:
            stored = self.store.add_checkpoint(size, note, datetime.now(UTC).isoformat())
        except PersistenceError:
            if latest is None or not fallback:
                raise
            return latest[1]
        self._issued_at = time.monotonic()
        return stored

    def add_cosignatures(self, note: str) -> str:
        """Keep the witness cosignatures on ``note`` (a stored checkpoint returned by its witnesses, C2SP
        tlog-cosignature) from the witnesses configured in ``settings.witnesses``; return the stored note.

        Raises:
            MalformedInput: the note is not a checkpoint of this log.
            NotFound: no checkpoint of that size was issued.
            Forbidden: no configured witness cosigned it.
            RuleRejected: a configured witness's cosignature does not verify, or the note is another
                checkpoint of that size (``consistency``).
        """
        try:
            checkpoint = verify_checkpoint(note, self.verifier_key).checkpoint
        except VerificationError as e:
            raise MalformedInput(f"not a checkpoint of this log: {e}", code=e.kind) from None
        with self._lock:
            stored = self.store.checkpoint_at(checkpoint.size)
            if stored is None:
                raise NotFound(f"no checkpoint of size {checkpoint.size} was issued", code="no_checkpoint")
            try:
                merged = merge_cosignatures(stored, note, self.settings.witnesses)
            except VerificationError as e:
                if e.kind == "cosignature" and e.found == 0:
                    raise Forbidden(str(e), code="unknown_witness") from None
                raise RuleRejected(str(e), code=e.kind) from None
            self.store.replace_checkpoint(checkpoint.size, merged)
        return merged

    def checkpoints(self) -> list[tuple[int, str]]:
        """Every stored checkpoint, by size."""
        return self.store.checkpoints()

    def _check_size(self, n: int, size: int, what: str) -> None:
        if not 0 <= n < size if what == "index" else not 0 <= n <= size:
            raise NotFound(f"{what} {n} is outside a tree of size {size}", code="out_of_range")

    def prove_inclusion(self, index: int, size: int) -> list[bytes]:
        """The RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries.

        Raises:
            NotFound: ``index`` is not below ``size`` or ``size`` exceeds the log.
        """
        self._check_size(size, self.size(), "size")
        self._check_size(index, size, "index")
        return prove_inclusion(size, index, self.store.read_hashes)

    def prove_inclusions(self, indexes: Sequence[int], size: int) -> dict[int, list[bytes]]:
        """Inclusion proofs of many entries in the tree of ``size`` entries, reading the stored hashes they need
        in one pass (a credit report proves hundreds of entries at once).

        Raises:
            NotFound: an index is not below ``size`` or ``size`` exceeds the log.
        """
        self._check_size(size, self.size(), "size")
        for index in indexes:
            self._check_size(index, size, "index")
        if not indexes:
            return {}
        return prove_inclusions(size, indexes, self.store.read_hashes)

    def entries_at(self, indexes: Sequence[int]) -> dict[int, bytes]:
        """The bytes of the entries at ``indexes`` (those that exist), read together."""
        return self.store.entries_at(indexes)

    def prove_consistency(self, old: int, new: int) -> list[bytes]:
        """The RFC 9162 consistency proof from tree size ``old`` to ``new``.

        Raises:
            NotFound: the sizes are not 0 < old <= new <= the log's size.
        """
        self._check_size(new, self.size(), "size")
        if not 0 < old <= new:
            raise NotFound(f"no consistency proof from {old} to {new}", code="out_of_range")
        return prove_consistency(new, old, self.store.read_hashes)

    def tlog_proof(self, index: int) -> str:
        """Entry ``index``'s c2sp.org/tlog-proof@v1 file against the latest checkpoint (issued if needed).

        Raises:
            NotFound: no such entry.
        """
        note = self.checkpoint()
        size = int(note.split("\n")[1])
        self._check_size(index, size, "index")
        return format_proof_file(self.entry(index), index, prove_inclusion(size, index, self.store.read_hashes), note)

    def export(self, out: IO[bytes], progress: Callable[[int, int], None] | None = None) -> int:
        """Write the bundle (docs/format.md section 10) to ``out``; return the number of entries written."""
        size = self.size()
        checkpoints = [(s, n) for s, n in self.checkpoints() if s <= size]
        by_size: dict[int, list[str]] = {}
        for s, note in checkpoints:
            by_size.setdefault(s, []).append(note)
        header = {
            "kind": "header",
            "format": "lvyue-bundle/v1",
            "origin": self.origin,
            "log_key": self.verifier_key,
        }
        out.write(orjson.dumps(header) + b"\n")
        for witness in self.settings.witnesses:
            out.write(orjson.dumps({"kind": "witness", "name": witness.split("+")[0], "key": witness}) + b"\n")
        for note in by_size.get(0, []):
            out.write(orjson.dumps({"kind": "checkpoint", "note": note}) + b"\n")
        written = 0
        for index, data in self.entries(0, size):
            out.write(data + b"\n")
            written += 1
            for note in by_size.get(index + 1, []):
                out.write(orjson.dumps({"kind": "checkpoint", "note": note}) + b"\n")
            if progress is not None and (written % 1000 == 0 or written == size):
                progress(written, size)
        keys = [
            {
                "subject": s,
                "key_id": k,
                "public_key": b64encode(pk),
                "bound_at": b,
                "revoked_at": r if r is not None and r < size else None,
            }
            for s, k, pk, b, r in self.store.key_history()
            if b < size
        ]
        out.write(orjson.dumps({"kind": "keys", "keys": keys}) + b"\n")
        return written


def _statement_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key_id(public_key_b64: str) -> str:
    return key_id(b64decode(public_key_b64, what="public_key", size=32))
