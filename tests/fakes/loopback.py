"""A loopback HTTP server on its own event loop thread, with faults a real service shows.

Fakes of the YARN ResourceManager and the Kubernetes API build on it. It runs in a thread so
that blocking clients (the `kubernetes` client, `requests`) and async code alike can use it from
any test, and it can be told to misbehave the ways the real thing does:

    server.refuse()    # stop listening: connects are refused (the port is kept for resume())
    server.resume()    # listen again on the same port, answer normally
    server.hang()      # accept and read requests, never answer (until resume())
    server.fail(503)   # answer every request with this status (the subclass shapes the body)

`requests` records (method, path_qs) of every request answered or hung, for call counting.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LoopbackServer:
    def __init__(self) -> None:
        self.app = web.Application(middlewares=[self._faults])
        self.requests: list[tuple[str, str]] = []
        self.port = 0
        self._mode = "ok"
        self._fail_status = 500
        self._released = asyncio.Event()  # set by resume(): hung requests then get their answer
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=type(self).__name__, daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> LoopbackServer:
        self.add_routes(self.app)
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._loop.call_soon_threadsafe(self._released.set)
        if self._runner is not None:
            self._call(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_routes(self, app: web.Application) -> None:
        """Subclasses register their handlers here (called once, before the server starts)."""

    # -- faults ---------------------------------------------------------------------------------

    def refuse(self) -> None:
        self._call(self._unlisten())

    def resume(self) -> None:
        self._mode = "ok"
        self._loop.call_soon_threadsafe(self._released.set)
        if self._site is None:
            self._call(self._listen(self.port))

    def hang(self) -> None:
        self._mode = "hang"
        self._loop.call_soon_threadsafe(self._released.clear)

    def fail(self, status: int) -> None:
        self._mode = "fail"
        self._fail_status = status

    def error_response(self, request: web.Request, status: int) -> web.StreamResponse:
        """The body a failing server sends; subclasses answer in their service's format."""
        return web.Response(status=status, text=f"error {status}\n")

    def calls(self, path: str) -> int:
        return sum(1 for _, p in self.requests if p.split("?")[0] == path)

    # -- internals ------------------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _start(self) -> None:
        self._released = asyncio.Event()
        self._released.set()
        self._runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        await self._listen(0)

    async def _listen(self, port: int) -> None:
        assert self._runner is not None
        site = web.TCPSite(self._runner, "127.0.0.1", port, reuse_address=True)
        await site.start()
        self._site = site
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = int(server.sockets[0].getsockname()[1])

    async def _unlisten(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None
        # A process that stopped listening has no open connections either: drop kept-alive ones.
        if self._runner is not None and self._runner.server is not None:
            for connection in self._runner.server.connections:
                connection.force_close()

    @web.middleware
    async def _faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        if self._mode == "hang":
            await self._released.wait()
        if self._mode == "fail":
            return self.error_response(request, self._fail_status)
        return await handler(request)
