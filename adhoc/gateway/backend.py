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


def keepalive(writer: asyncio.StreamWriter, idle_s: int = 60, interval_s: int = 10, count: int = 6) -> None:
    """TCP keepalive, so a peer that vanished without FIN/RST (power loss, dropped route) is noticed."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, count)


class BackendConnection:
    """Calls are strictly one at a time, like every HS2 client's; a broken call breaks the connection."""

    def __init__(self, engine: Engine, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.engine = engine
        self._reader = reader
        self._writer = writer
        self._stream = BackendStream()
        self.busy = False  # a call is in flight: its reply has not been read
        self.broken = False

    @classmethod
    async def connect(cls, engine: Engine, user: str, password: str, timeout: float) -> BackendConnection:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(engine.host, engine.port), timeout)
        except (OSError, TimeoutError) as e:
            raise EngineError(f"engine {engine.name} at {engine.address} is unreachable: {e or 'timed out'}") from None
        keepalive(writer)
        conn = cls(engine, reader, writer)
        try:
            await asyncio.wait_for(conn._handshake(user, password), timeout)
        except TimeoutError:
            conn.close()
            raise EngineError(f"engine {engine.name} did not finish the SASL handshake in {timeout:.0f} s") from None
        except BaseException:
            conn.close()
            raise
        return conn

    async def _handshake(self, user: str, password: str) -> None:
        self._writer.write(self._stream.start(user, password))
        while True:
            event = self._stream.next_event()
            if isinstance(event, HandshakeDone):
                return
            await self._feed()

    async def _feed(self) -> None:
        data = await self._reader.read(READ_SIZE)
        if not data:
            self.broken = True
            raise EngineError(f"engine {self.engine.name} at {self.engine.address} closed the connection")
        self._stream.receive_data(data)

    async def call(self, message: bytes) -> Reply:
        """Send one Thrift call (unframed message bytes) and return the engine's reply."""
        if self.broken:
            raise EngineError(f"the connection to engine {self.engine.name} was lost; reconnect to continue")
        self.busy = True
        try:
            self._writer.write(BackendStream.frame(message))
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
        if not self._writer.is_closing():
            self._writer.close()
