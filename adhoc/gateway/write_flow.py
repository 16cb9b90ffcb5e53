"""Write flow control for an asyncio.Protocol: the transport says when its buffer is full and when
there is room again; a writer waits for room instead of buffering without bound. Shared by the
binary port's client socket (client_socket.py) and the HTTP transport's (adhoc/http/thrift_http_socket.py)."""

from __future__ import annotations

import asyncio


class WriteFlow:
    _write_paused = False
    _drain_waiter: asyncio.Future[None] | None = None

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait_for_room(self) -> None:
        """Back when the transport's buffer is under its high-water mark (or the socket is gone:
        connection_lost must call resume_writing)."""
        if self._write_paused:
            self._drain_waiter = waiter = asyncio.get_running_loop().create_future()
            await waiter
