"""The log itself: checkpoints, the verifier key, entries, proofs and the bundle. The log is public by design;
the public's reads are rate-limited."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse, StreamingResponse

from api.deps import LedgerDep, ReaderDep
from api.errors import ApiError
from api.models import CheckpointOut, ConsistencyProofOut, CosignedIn, InclusionProofOut, SizeOut
from api.responses import READ, JSONLResponse, RawJSONResponse, errors, jsonl, text
from ledger.service import Ledger
from verifier.statement import b64encode

router = APIRouter(prefix="/log", tags=["log"])

MAX_ENTRIES = 1000
MAX_INT = 2**53 - 1
NonNegative = Annotated[int, Query(ge=0, le=MAX_INT)]
Index = Annotated[int, Path(ge=0, le=MAX_INT)]


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses={**text("The latest signed checkpoint (issued first if the tree grew)."), **errors(*READ)},
)
def checkpoint(ledger: LedgerDep, reader: ReaderDep) -> PlainTextResponse:
    """The latest signed checkpoint, byte for byte what ``lvyue checkpoint`` prints. A worker that issued one
    less than LVYUE_CHECKPOINT_FRESHNESS seconds ago serves it as it is; when the writers keep the store too
    busy to issue a new one in time, the latest issued is served rather than an error."""
    return PlainTextResponse(ledger.checkpoint(fallback=True, freshness=ledger.settings.checkpoint_freshness))


@router.get(
    "/key",
    response_class=PlainTextResponse,
    responses={**text("The log's verifier key (signed-note form) and a newline."), **errors(*READ)},
)
def key(ledger: LedgerDep, reader: ReaderDep) -> PlainTextResponse:
    """The log's verifier key, as ``lvyue log-key`` prints it."""
    return PlainTextResponse(ledger.verifier_key + "\n")


@router.get("/size", response_model=SizeOut, responses=errors(*READ))
def size(ledger: LedgerDep, reader: ReaderDep) -> SizeOut:
    """The number of entries."""
    return SizeOut(size=ledger.size())


@router.get(
    "/entries",
    response_class=JSONLResponse,
    responses={**jsonl("Entry bytes, one entry per line, in log order."), **errors(*READ)},
)
def entries(ledger: LedgerDep, reader: ReaderDep, start: NonNegative, stop: NonNegative) -> JSONLResponse:
    """Entries ``start`` .. ``stop - 1`` (at most 1000; ``stop`` beyond the log's end is cut to it)."""
    if stop < start or stop - start > MAX_ENTRIES:
        raise ApiError(400, f"need start <= stop <= start + {MAX_ENTRIES}", code="malformed", start=start, stop=stop)
    stop = min(stop, ledger.size())
    return JSONLResponse(b"".join(data + b"\n" for _i, data in ledger.entries(start, stop)))


@router.get(
    "/entries/{index}",
    response_class=RawJSONResponse,
    responses={
        200: {"description": "The entry's exact bytes.", "content": {"application/json": {"schema": {}}}},
        **errors(*READ, 404),
    },
)
def entry(index: Index, ledger: LedgerDep, reader: ReaderDep) -> RawJSONResponse:
    """Entry ``index``'s bytes (canonical JSON)."""
    return RawJSONResponse(ledger.entry(index))


@router.get("/proof/inclusion", response_model=InclusionProofOut, responses=errors(*READ, 404))
def inclusion(ledger: LedgerDep, reader: ReaderDep, index: NonNegative, size: NonNegative) -> InclusionProofOut:
    """The inclusion proof of entry ``index`` in the tree of ``size`` entries."""
    proof = ledger.prove_inclusion(index, size)
    return InclusionProofOut(index=index, size=size, proof=[b64encode(h) for h in proof])


@router.get("/proof/consistency", response_model=ConsistencyProofOut, responses=errors(*READ, 404))
def consistency(ledger: LedgerDep, reader: ReaderDep, old: NonNegative, new: NonNegative) -> ConsistencyProofOut:
    """The consistency proof from tree size ``old`` to ``new``."""
    proof = ledger.prove_consistency(old, new)
    return ConsistencyProofOut(old=old, new=new, proof=[b64encode(h) for h in proof])


@router.get(
    "/proof/{index}",
    response_class=PlainTextResponse,
    responses={**text("A c2sp.org/tlog-proof@v1 file."), **errors(*READ, 404)},
)
def tlog_proof(index: Index, ledger: LedgerDep, reader: ReaderDep) -> PlainTextResponse:
    """Entry ``index``'s tlog-proof file against the latest checkpoint (issued first if needed)."""
    return PlainTextResponse(ledger.tlog_proof(index))


@router.post("/cosignatures", response_model=CheckpointOut, responses=errors(400, 403, 404, 422))
def add_cosignatures(body: CosignedIn, ledger: LedgerDep) -> CheckpointOut:
    """A witness returns a checkpoint it cosigned (C2SP tlog-cosignature) after checking it extends the last one
    it cosigned; the log keeps the cosignatures of the witnesses it is configured with (LVYUE_WITNESSES).
    Witnesses authenticate by their cosignatures."""
    note = ledger.add_cosignatures(body.note)
    return CheckpointOut(size=int(note.split("\n")[1]), note=note)


@router.get("/checkpoints", response_model=list[CheckpointOut], responses=errors(*READ))
def checkpoints(ledger: LedgerDep, reader: ReaderDep) -> list[CheckpointOut]:
    """Every checkpoint the log has issued, by size."""
    return [CheckpointOut(size=s, note=n) for s, n in ledger.checkpoints()]


class _QueueWriter:
    """A binary file the exporting thread writes to and the response reads from, in chunks."""

    def __init__(self, q: queue.Queue[bytes | None], cancelled: threading.Event) -> None:
        self._q = q
        self._cancelled = cancelled
        self._buf: list[bytes] = []
        self._n = 0

    def write(self, data: bytes) -> int:
        self._buf.append(data)
        self._n += len(data)
        if self._n >= 1 << 16:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if not self._buf:
            return
        chunk = b"".join(self._buf)
        self._buf, self._n = [], 0
        while not self._cancelled.is_set():
            try:
                self._q.put(chunk, timeout=0.5)
                return
            except queue.Full:
                continue
        raise OSError("export cancelled")


def _stream_export(ledger: Ledger) -> Iterator[bytes]:
    q: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
    cancelled = threading.Event()
    failure: list[BaseException] = []

    def work() -> None:
        writer = _QueueWriter(q, cancelled)
        try:
            ledger.export(writer)  # type: ignore[arg-type]
            writer.flush()
        except BaseException as e:
            failure.append(e)
        finally:
            while not cancelled.is_set():
                try:
                    q.put(None, timeout=0.5)
                    break
                except queue.Full:
                    continue

    thread = threading.Thread(target=work, name="lvyue-export", daemon=True)
    thread.start()
    try:
        while True:
            chunk = q.get()
            if chunk is None:
                break
            yield chunk
        if failure:
            raise failure[0]
    finally:
        cancelled.set()


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={**jsonl("The bundle (docs/format.md section 10), streamed."), **errors(*READ)},
)
def export(ledger: LedgerDep, reader: ReaderDep) -> StreamingResponse:
    """The whole log as a bundle that verifies with no database (a checkpoint is issued first if needed)."""
    ledger.checkpoint()
    return StreamingResponse(_stream_export(ledger), media_type="application/jsonl")
