"""One TCP connection from the gateway to an engine, speaking SASL PLAIN + framed Thrift."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from adhoc.engines import Engine
from adhoc.errors import AdhocError, EngineError, ProtocolError
from adhoc.protocol.backend_stream import BackendStream, HandshakeDone, Reply
from adhoc.protocol.client_stream import NEED_DATA

log = logging.getLogger("adhoc.gateway")

READ_SIZE = 256 * 1024


def keepalive(sock: socket.socket | None, idle_s: int = 60, interval_s: int = 10, count: int = 6) -> None:
    """TCP keepalive, so a peer that vanished without FIN/RST (power loss, dropped route) is noticed."""
    if sock is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, count)


class _EngineProtocol(asyncio.Protocol):
    """Bytes from the engine go straight into the sans-IO stream; the waiting call is woken only
    when a whole reply is there (a large result arrives in many reads). No StreamReader/Writer
    pair: an idle session's engine connection is this object and its transport."""

    def __init__(self, stream: BackendStream) -> None:
        self.stream = stream
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a TCP transport

    def data_received(self, data: bytes) -> None:
        self.stream.receive_data(data)
        if self.waiter is not None and self.stream.event_ready:
            self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class BackendConnection:
    """Calls are strictly one at a time, like every HS2 client's; a broken call breaks the connection."""

    def __init__(self, engine: Engine, protocol: _EngineProtocol) -> None:
        self.engine = engine
        self._protocol = protocol
        self._stream = protocol.stream
        self.busy = False  # a call is in flight: its reply has not been read
        self.broken = False

    @classmethod
    async def connect(cls, engine: Engine, user: str, password: str, timeout: float) -> BackendConnection:
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _EngineProtocol(BackendStream()), engine.host, engine.port), timeout
            )
        except (OSError, TimeoutError) as e:
            raise EngineError(f"engine {engine.name} at {engine.address} is unreachable: {e or 'timed out'}") from None
        assert protocol.transport is not None
        keepalive(protocol.transport.get_extra_info("socket"))
        conn = cls(engine, protocol)
        try:
            await asyncio.wait_for(conn._handshake(user, password), timeout)
        except TimeoutError:
            conn.close()
            raise EngineError(f"engine {engine.name} did not finish the SASL handshake in {timeout:.0f} s") from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _write(self, data: bytes) -> None:
        transport = self._protocol.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        transport.write(data)

    async def _handshake(self, user: str, password: str) -> None:
        self._write(self._stream.start(user, password))
        while True:
            event = self._stream.next_event()
            if isinstance(event, HandshakeDone):
                return
            await self._feed()

    async def _feed(self) -> None:
        """Wait until the stream has a whole event (a reply, a handshake step) or the engine hung up."""
        protocol = self._protocol
        if protocol.closed:
            self.broken = True
            raise EngineError(f"engine {self.engine.name} at {self.engine.address} closed the connection")
        protocol.waiter = waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            protocol.waiter = None

    async def call(self, message: bytes) -> Reply:
        """Send one Thrift call (unframed message bytes) and return the engine's reply."""
        if self.broken:
            raise EngineError(f"the connection to engine {self.engine.name} was lost; reconnect to continue")
        self.busy = True
        try:
            self._write(BackendStream.frame(message))
            while True:
                event = self._stream.next_event()
                if isinstance(event, Reply):
                    self.busy = False
                    return event
                assert event is NEED_DATA
                await self._feed()
        except (ConnectionError, OSError) as e:
            self.broken = True
            raise EngineError(f"engine {self.engine.name} connection failed: {e}") from None
        except ProtocolError as e:
            self.broken = True
            raise EngineError(f"engine {self.engine.name} sent a malformed reply: {e}") from None
        except AdhocError:
            self.broken = True
            raise
        except BaseException:  # cancelled mid-call: the reply would arrive out of step
            self.broken = True
            raise

    def close(self) -> None:
        self.broken = True
        transport = self._protocol.transport
        if transport is not None and not transport.is_closing():
            transport.close()
