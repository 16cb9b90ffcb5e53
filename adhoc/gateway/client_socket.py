"""A client's socket as its connection task sees it (adhoc/gateway/connection.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from adhoc.gateway.write_flow import WriteFlow

_READ_HIGH_WATER = 2 * 1024 * 1024  # stop reading a client that sends this far ahead of its answers


class ClientProtocol(WriteFlow, asyncio.Protocol):
    """The client's socket as its connection task sees it: bytes read in whole chunks, writes with
    flow control, and word when the peer is gone, whoever is reading or not. One object per
    connection instead of asyncio's StreamReaderProtocol + StreamReader + StreamWriter (about 2 KiB
    less per idle session), and status calls answered in place (`answer_now`) never reach it."""

    def __init__(self, on_connect: Callable[[ClientProtocol], Coroutine[Any, Any, None]]) -> None:
        self._on_connect = on_connect
        self.transport: Any = None  # uvloop's TCPTransport or asyncio's: the same methods
        self.task: asyncio.Task[None] | None = None  # held here: the loop keeps only weak references
        self.on_gone: Callable[[], None] | None = None
        self.answer_now: Callable[[bytes], bool] | None = None  # True: the bytes were answered here
        self._received: list[bytes] = []
        self._received_size = 0
        self._reading_paused = False
        self._eof = False
        self._lost = False
        self._read_waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.task = asyncio.get_running_loop().create_task(self._on_connect(self))

    def data_received(self, data: bytes) -> None:
        answer_now = self.answer_now
        if answer_now is not None and answer_now(data):
            return
        self._received.append(data)
        self._received_size += len(data)
        if self._received_size > _READ_HIGH_WATER and not self._reading_paused:
            self._reading_paused = True  # a client sending faster than its calls are answered
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake_reader()
        if self.on_gone is not None:
            self.on_gone()
        return True  # half-closed: the answer to a call already read may still be written

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = self._lost = True
        self._wake_reader()
        self.resume_writing()
        if self.on_gone is not None:
            self.on_gone()

    # -- for the connection task --------------------------------------------------------------------

    async def read(self) -> bytes:
        """The bytes received since the last read (b"" once the client closed its side)."""
        if not self._received and not self._eof:
            self._read_waiter = waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._read_waiter = None
        received = self._received
        if not received:
            return b""
        data = received[0] if len(received) == 1 else b"".join(received)
        received.clear()
        self._received_size = 0
        if self._reading_paused and not self._lost:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    def write(self, data: bytes | memoryview) -> None:
        self.transport.write(data)

    async def drain(self) -> None:
        """Wait until the transport's buffer is under its high-water mark again."""
        if self._lost:
            raise ConnectionResetError("the client connection was lost")
        await self._wait_for_room()
        if self._lost:
            raise ConnectionResetError("the client connection was lost")

    def close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def get_extra_info(self, name: str) -> Any:
        return self.transport.get_extra_info(name)

    def _wake_reader(self) -> None:
        waiter = self._read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
