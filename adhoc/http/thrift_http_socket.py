"""One HTTP client connection of the HTTP transport: requests in order, answered with the least machinery.

A bare asyncio.Protocol over the sans-IO reader (adhoc/protocol/http1.py), not a web framework:
Hive JDBC asks for an operation's status around every row it reads, each in its own POST on one
keep-alive connection, so a request's fixed cost is multiplied by the row count. Requests are read
in `data_received`; one that `answer_now` can answer from what is in memory (a status call on an
ended operation, from a client whose cookie or Basic credentials were checked before) is answered
right there: no task, no decoding. Any other request goes to a task, and the requests behind it
wait for it, as HTTP/1.1 wants answers in order.

Slow clients cost only themselves: a request's head and body must arrive within `request_timeout_s`
of its first byte (408), and a connection idle between requests closes after `keepalive_s`. While a
call runs there is no timer (GetOperationStatus long-polls; a statement may run for minutes); a
client that stops reading its answers is dropped after `write_timeout_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from adhoc.gateway.write_flow import WriteFlow
from adhoc.protocol.http1 import CONTINUE, NEED_DATA, Continue, HttpError, Request, RequestReader, response_head

log = logging.getLogger("adhoc.http")

_READ_HIGH_WATER = 1024 * 1024  # stop reading a client that pipelines this far ahead of its answers
_WRITE_HIGH_WATER = 1024 * 1024

Answer = bytes | list[bytes | memoryview]  # a whole response, or its parts in order


class Responder:
    """What a connection asks of the HTTP transport (adhoc.http.thrift_http.ThriftHttp)."""

    def answer_now(self, request: Request, peer: str) -> Answer | None:
        raise NotImplementedError

    async def answer(self, request: Request, peer: str) -> Answer:
        raise NotImplementedError


class ThriftHttpConnection(WriteFlow, asyncio.Protocol):
    def __init__(self, responder: Responder, max_body: int, request_timeout_s: float, keepalive_s: float,
                 write_timeout_s: float, connections: set[ThriftHttpConnection],
                 max_connections: int = 1 << 30) -> None:  # fmt: skip
        self.responder = responder
        self.reader = RequestReader(max_body)
        self.request_timeout_s, self.keepalive_s, self.write_timeout_s = request_timeout_s, keepalive_s, write_timeout_s
        self.connections = connections
        self.max_connections = max_connections
        self.transport: Any = None  # uvloop's TCPTransport or asyncio's: the same methods
        self.peer = ""
        self.task: asyncio.Task[None] | None = None  # the request being answered off the socket's callback
        self._loop = asyncio.get_running_loop()
        self._since = self._loop.time()  # the last answer, or the first byte of the request being read
        self._timer: asyncio.TimerHandle | None = None
        self._reading_paused = False
        self._closed = False
        self._eof = False

    # -- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        if len(self.connections) >= self.max_connections and not self._close_an_idle_one():
            # Every connection is mid-request: said, not hung up on (a load balancer retries elsewhere).
            text = f"too many connections to this gateway's HTTP transport ({self.max_connections}); try again"
            self._refuse(HttpError(503, text))
            return
        self.connections.add(self)
        self._arm(self.keepalive_s)

    def _close_an_idle_one(self) -> bool:
        """At the cap, make room: close the connection idle the longest between two requests.
        Clients such as impyla open a connection per request and leave the old ones to the server's
        keep-alive; refusing newcomers while those linger would turn ordinary use into an outage."""
        idle = [c for c in self.connections if c.task is None and not c.reader.mid_request and not c._closed]
        if not idle:
            return False
        min(idle, key=lambda c: c._since).close()
        return True

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        if not reader.mid_request and self.task is None:
            self._since = self._loop.time()  # a new request starts: its bytes have request_timeout_s
        reader.receive_data(data)
        if self.task is None:
            self._serve()
        elif reader.buffered > _READ_HIGH_WATER and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        # The client is done sending (some half-close after their request): answer what it sent,
        # then close.
        self._eof = True
        if self.task is None:
            self._serve()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        # A call under way goes on: its HS2 session outlives the connection (pyhive uses a new
        # one per request); only its answer has nowhere to go.
        self._closed = True
        self.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        self.resume_writing()

    # -- requests ----------------------------------------------------------------------------------

    def _serve(self) -> None:
        """Answer the requests read so far, in order, until one needs a task or more bytes are due."""
        reader = self.reader
        while not self._closed:
            event = reader.next_event()
            if event is NEED_DATA:
                if self._eof:
                    self.close()  # nothing more will come
                return
            if isinstance(event, Continue):
                self.transport.write(CONTINUE)
            elif isinstance(event, HttpError):
                self._refuse(event)
                return
            elif isinstance(event, Request):
                answer = None if self._write_paused else self.responder.answer_now(event, self.peer)
                if answer is None:
                    self.task = self._loop.create_task(self._answer(event))
                    return
                self._write(answer, event.keep_alive)
                self._since = self._loop.time()

    async def _answer(self, request: Request) -> None:
        try:
            answer = await self.responder.answer(request, self.peer)
            if self._closed:
                return
            self._write(answer, request.keep_alive)
            if self._write_paused:
                async with asyncio.timeout(self.write_timeout_s):
                    await self._drain()
        except TimeoutError:
            log.info("an HTTP client stopped reading its answers", extra={"client": self.peer})
            self.close()
        except Exception:
            log.exception("the HTTP transport failed a request", extra={"client": self.peer})
            self._refuse(HttpError(500, "the gateway failed this request; see its log"))
        finally:
            self.task = None
        self._since = self._loop.time()
        if self._reading_paused and not self._closed:
            self._reading_paused = False
            self.transport.resume_reading()
        self._serve()

    def _write(self, answer: Answer, keep_alive: bool) -> None:
        if isinstance(answer, bytes):
            self.transport.write(answer)
        else:
            self.transport.writelines(answer)
        if not keep_alive:
            self.close()

    def _refuse(self, error: HttpError) -> None:
        if self._closed:
            return
        body = (error.message + "\n").encode()
        self.transport.write(response_head(error.status, len(body), b"text/plain; charset=utf-8", keep_alive=False)
                             + body)  # fmt: skip
        self.close()

    async def _drain(self) -> None:
        if not self._closed:
            await self._wait_for_room()

    def close(self) -> None:
        self._closed = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    # -- slow and idle clients -----------------------------------------------------------------------

    def _arm(self, after_s: float) -> None:
        # never later than a request's limit: a request may start any time, and its timer is this one
        self._timer = self._loop.call_later(min(after_s, self.request_timeout_s), self._check_time)

    def _check_time(self) -> None:
        """One timer per connection, ticking at least every request_timeout_s and checking what is
        due: requests do not each cancel and set one."""
        if self._closed:
            return
        if self.task is not None:
            self._arm(self.keepalive_s)  # a call under way: no limit on how long the engine takes
            return
        reading = self.reader.mid_request
        limit = self.request_timeout_s if reading else self.keepalive_s
        left = self._since + limit - self._loop.time()
        if left > 0:
            self._arm(left)
        elif reading:
            self._refuse(HttpError(408, f"the request did not arrive within {limit:g} s"))
        else:
            self.close()


def close_connections(connections: set[ThriftHttpConnection]) -> None:
    for connection in list(connections):
        if connection.task is not None:
            connection.task.cancel()
        with contextlib.suppress(Exception):
            connection.close()
