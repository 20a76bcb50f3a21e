"""One process commits every submitted statement; the HTTP workers hand them over a local socket.

With several worker processes each committing its own statements, the workers take turns on the log's write
lock. Each then finds its page cache and chain cache cold, because the other wrote last, and every turn
pays its own flush. ``lvyue serve --workers N`` therefore runs a ``CommitServer`` in its supervising process,
which already holds the ledger. The workers' ``POST /statements`` is answered through a ``RemoteCommit``: the
request body goes to the server as it came, and its answer (status, headers, body) comes back as it is sent.
The server answers with the route's own function (``api.routes.statements.answer``) and one group committer,
so the answers are the ones a worker would give, and statements from every worker share transactions.

Frames on the socket: a 4-byte big-endian length, then that many bytes. A request is the body. An answer is a
2-byte status, a 2-byte length and that many bytes of JSON headers, then the response body.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path

import orjson
from starlette.responses import Response

from api.errors import ledger_error_response
from api.routes.statements import MAX_STATEMENT_BYTES, answer, check_size
from ledger.errors import LedgerError, StoreUnavailable
from ledger.group_commit import GroupCommit
from ledger.service import Ledger

__all__ = ["CommitServer", "RemoteCommit"]

_KEPT_HEADERS = ("retry-after", "www-authenticate")


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


async def _read_frame(reader: asyncio.StreamReader, limit: int) -> bytes:
    size = int.from_bytes(await reader.readexactly(4), "big")
    if size > limit:
        raise ValueError(f"a frame of {size} bytes")
    return await reader.readexactly(size)


class CommitServer:
    """Serves the commit socket at ``path`` from a thread of its own, until ``stop()``."""

    def __init__(self, ledger: Ledger, path: Path) -> None:
        self.ledger = ledger
        self.path = path
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failed: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="lvyue-committer", daemon=True)

    def start(self) -> None:
        """Bind the socket and start answering; return once it accepts connections.

        Raises:
            OSError: the socket cannot be bound.
        """
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # left by a process that ended without cleaning up
        self._thread.start()
        self._ready.wait(30)
        if self._failed is not None:
            raise self._failed
        if not self._ready.is_set():
            raise OSError(f"the commit socket {self.path} did not open")

    def stop(self) -> None:
        """Stop answering (closing the workers' connections) and remove the socket."""
        if self._thread.is_alive() and self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(10)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except OSError as e:
            self._failed = e
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        group = GroupCommit(self.ledger)
        writers: set[asyncio.StreamWriter] = set()

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.add(writer)
            try:
                await self._connection(reader, writer, group)
            finally:
                writers.discard(writer)

        server = await asyncio.start_unix_server(connection, path=str(self.path))
        self._ready.set()
        async with server:
            await self._stopped.wait()
            server.close()
            for writer in list(writers):
                writer.close()  # the handlers see the end of their stream and return
            await asyncio.sleep(0)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, group: GroupCommit) -> None:
        try:
            while True:
                body = await _read_frame(reader, MAX_STATEMENT_BYTES + 1)
                try:
                    response = await answer(body, group)
                except LedgerError as e:
                    response = ledger_error_response(e)
                except Exception as e:  # an unexpected failure still answers
                    response = ledger_error_response(LedgerError(f"internal error: {e}", code="internal"))
                headers = {k: v for k, v in response.headers.items() if k in _KEPT_HEADERS}
                encoded = orjson.dumps(headers)
                status = response.status_code.to_bytes(2, "big") + len(encoded).to_bytes(2, "big")
                writer.write(_frame(status + encoded + bytes(response.body)))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass  # the worker went away, or sent something that is not a frame
        finally:
            writer.close()


class RemoteCommit:
    """A worker's side of the commit socket: one connection per request in flight, reused when idle."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def answer(self, body: bytes) -> Response:
        """The committer's response to ``POST /statements`` with ``body``.

        Raises:
            MalformedInput: the body is longer than any statement may be.
            StoreUnavailable: the committer cannot be reached or broke off (the statement may or may not have
                been committed, as when any connection breaks; submitting it again is refused as a replay
                if it was).
        """
        check_size(body)  # refused here as the committer would, without sending it
        try:
            reader, writer = self._idle.pop() if self._idle else await asyncio.open_unix_connection(str(self.path))
        except OSError as e:
            raise StoreUnavailable(f"the committer is not answering: {e}") from e
        try:
            writer.write(_frame(body))
            await writer.drain()
            payload = await _read_frame(reader, 1 << 24)
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            writer.close()
            raise StoreUnavailable(f"the committer broke off: {e}") from e
        except BaseException:
            writer.close()  # cancelled between request and answer: the connection is out of step, not reused
            raise
        self._idle.append((reader, writer))
        status = int.from_bytes(payload[:2], "big")
        size = int.from_bytes(payload[2:4], "big")
        headers = orjson.loads(payload[4 : 4 + size])
        return Response(payload[4 + size :], status_code=status, headers=headers, media_type="application/json")
