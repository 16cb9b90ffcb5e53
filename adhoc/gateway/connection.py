"""One client connection: handshake, then calls answered one at a time, then teardown.

A single task reads the client's bytes (through the sans-IO ClientStream) and answers each call
in turn, as every HS2 client expects. One call skips the task: a status call on an operation that
has ended, arriving alone while the task waits for the next call, is answered from the stored
reply right where the bytes arrive (`ClientProtocol.data_received`, gateway/client_socket.py):
Hive JDBC makes one per row it reads, and waking the task, decoding the call and dispatching it
cost more than the answer.

The socket tells us when the client goes (FIN, RST) even while a call is running on the engine:
then that call is cancelled and teardown cancels the client's operations and closes its sessions
on the engine, on a side connection when the main one is mid-call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from adhoc.errors import AdhocError, AuthenticationError, ProtocolError
from adhoc.gateway.backend import keepalive
from adhoc.gateway.calls import CallHandler, Outgoing
from adhoc.gateway.client_socket import ClientProtocol
from adhoc.gateway.context import GatewayContext
from adhoc.protocol.backend_stream import Reply
from adhoc.protocol.client_stream import NEED_DATA, ClientStream, Credentials, Request, Transport
from adhoc.protocol.status_call import framed_status_call, status_call

log = logging.getLogger("adhoc.gateway")

_WRITE_HIGH_WATER = 1024 * 1024  # wait for the client to read once this much is buffered
_QUIET_AFTER_S = 1.0  # a draining gateway ends a connection only after this long without a call


class ClientGone(Exception):
    pass


class ClientConnection:
    def __init__(self, ctx: GatewayContext, client: ClientProtocol) -> None:
        self.ctx = ctx
        self.client = client
        peer = client.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.stream = ClientStream(max_frame_bytes=ctx.config.server.max_frame_bytes)
        self.calls = CallHandler(ctx, self.peer)
        self._busy = False  # a call is being answered
        self._loop = asyncio.get_running_loop()
        self._last_call_at = self._loop.time()
        # The task waits for a call and has nothing unread: bytes arriving now may be answered
        # in place (_answer_now); any bytes handed to the reader end it until the next wait.
        self._between_calls = False
        self._task: asyncio.Task[None] | None = None
        keepalive(client.get_extra_info("socket"))
        client.on_gone = self._client_gone
        client.answer_now = self._answer_now

    @property
    def quiet(self) -> bool:
        """Safe to end while draining: no call being answered, none for a moment (a client between
        status polls and fetches calls again within milliseconds), and no statement still running."""
        if self._busy or asyncio.get_running_loop().time() - self._last_call_at < _QUIET_AFTER_S:
            return False
        return not any(op.running for op in self.calls.operations.values())

    def _client_gone(self) -> None:
        # Mid-call, nobody is reading: stop the call so teardown can run now, not when it ends.
        if self._busy and self._task is not None and not self._task.done():
            self._task.cancel()

    async def run(self) -> None:
        self._task = asyncio.current_task()
        server = self.ctx.config.server
        try:
            try:
                async with asyncio.timeout(server.handshake_timeout_s):
                    first = await self._handshake()
            except TimeoutError:
                log.info("handshake timed out", extra={"client": self.peer})
                self.ctx.metrics.error("HandshakeTimeout")
                return
            except (AdhocError, ConnectionError, ClientGone) as e:
                log.info("handshake failed", extra={"client": self.peer, "error": str(e)})
                self.ctx.metrics.error(type(e).__name__)
                return
            try:
                await self._answer_calls(first)
            except (ClientGone, ConnectionError, TimeoutError):
                pass
            except AdhocError as e:
                self.ctx.metrics.error(type(e).__name__)
                log.info("connection dropped", extra={"client": self.peer, "error": e.message})
        except asyncio.CancelledError:
            pass  # the client left mid-call, or the server is stopping: either way, tear down
        finally:
            await self._teardown()

    # -- handshake -------------------------------------------------------------------------------

    async def _handshake(self) -> list[Request]:
        """Authenticate (SASL) or detect NOSASL; returns calls already read past the handshake."""
        try:
            while True:
                event = self.stream.next_event()
                if isinstance(event, Credentials):
                    try:
                        await self.calls.login(event.user, event.password)
                    except AuthenticationError as e:
                        await self._refuse(e.message)
                        raise
                    self.client.write(self.stream.accept())
                    continue
                if isinstance(event, Request):
                    return [event, *self._drain_events()]
                if self.stream.authenticated and self.stream.transport is Transport.SASL:
                    return []
                await self._feed()
        except ProtocolError as e:
            if self.stream.transport is Transport.SASL:
                await self._refuse(e.message)
            raise

    async def _refuse(self, message: str) -> None:
        """Fail the SASL handshake; Java clients show 'Peer indicated failure: <message>'."""
        self.client.write(self.stream.reject(message))
        with contextlib.suppress(ConnectionError):
            await self.client.drain()

    def _drain_events(self) -> list[Request]:
        events: list[Request] = []
        while isinstance(event := self.stream.next_event(), Request):
            events.append(event)
        return events

    async def _feed(self) -> None:
        # Reading happens only between calls: silence during a long query is not idleness.
        idle = self.ctx.config.server.idle_timeout_s
        if idle <= 0:
            data = await self.client.read()
        else:
            while True:
                try:
                    async with asyncio.timeout_at(self._last_call_at + idle):
                        data = await self.client.read()
                    break
                except TimeoutError:
                    if self._loop.time() >= self._last_call_at + idle:
                        raise
                    # calls answered in place meanwhile: idle only since the last of them
        if not data:
            raise ClientGone()
        self.stream.receive_data(data)

    # -- calls ------------------------------------------------------------------------------------

    async def _answer_calls(self, first: list[Request]) -> None:
        for request in first:
            await self._answer(request)
        while True:
            self._between_calls = self.stream.drained
            try:
                await self._feed()
            finally:
                self._between_calls = False
            while (event := self.stream.next_event()) is not NEED_DATA:
                if not isinstance(event, Request):
                    raise ProtocolError("unexpected SASL frame after the handshake")
                await self._answer(event)

    async def _answer(self, request: Request) -> None:
        self._busy = True
        try:
            await self._send(await self.calls.handle(request))
        finally:
            self._busy = False
            self._last_call_at = asyncio.get_running_loop().time()

    def _answer_now(self, data: bytes) -> bool:
        """Answer `data` here if it is one whole status call of an ended operation of this
        connection; False hands it to the task (and ends answering here until it waits again)."""
        if not self._between_calls:
            return False
        self._between_calls = False
        transport = self.client.transport
        if transport.get_write_buffer_size() > _WRITE_HIGH_WATER:
            return False  # the general path waits for the client to read
        sasl = self.stream.transport is Transport.SASL
        call = framed_status_call(data) if sasl else status_call(data)
        if call is None:
            return False
        answer = self.calls.answer_ended_status(call[0], call[1], framed=sasl)
        if answer is None:
            return False
        transport.write(answer)
        self._last_call_at = self._loop.time()
        self._between_calls = True
        return True

    async def _send(self, out: Outgoing) -> None:
        if isinstance(out, Reply):
            data: bytes | memoryview = out.frame if self.stream.transport is Transport.SASL else out.message
        else:
            data = self.stream.frame(out)
        self.client.write(data)
        transport = self.client.transport
        if transport.get_write_buffer_size() > _WRITE_HIGH_WATER:
            # The client stopped reading: give it write_timeout_s, then drop it.
            async with asyncio.timeout(self.ctx.config.server.write_timeout_s):
                await self.client.drain()

    # -- teardown --------------------------------------------------------------------------------

    async def _teardown(self) -> None:
        """Cancel the client's operations and close its sessions on the engines, then hang up."""
        self._between_calls = False
        self.client.close()
        if not await self.calls.close_all(self.ctx.config.server.teardown_timeout_s):
            log.warning("teardown ran out of time", extra={"client": self.peer})
