"""The Thrift listener: accepts clients, enforces the connection limit, drains on shutdown."""

from __future__ import annotations

import asyncio
import logging

from adhoc.gateway.client_socket import ClientProtocol
from adhoc.gateway.connection import ClientConnection
from adhoc.gateway.context import GatewayContext

log = logging.getLogger("adhoc.gateway")

_DRAIN_POLL_S = 0.1  # how often a draining server looks for connections that went quiet


class ThriftServer:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], ClientConnection] = {}

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    async def start(self, host: str, port: int) -> None:
        # A deep backlog: benchmarks and BI tools open hundreds of connections at once.
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: ClientProtocol(self._accept), host, port, backlog=1024)

    async def _accept(self, client: ClientProtocol) -> None:
        metrics = self.ctx.metrics
        if len(self._connections) >= self.ctx.config.server.max_connections:
            metrics.error("TooManyConnections")
            client.close()
            return
        task = asyncio.current_task()
        assert task is not None
        connection = ClientConnection(self.ctx, client)
        self._connections[task] = connection
        metrics.connections.inc()
        metrics.connections_open.inc()
        try:
            await connection.run()
        except asyncio.CancelledError:
            pass  # stop() ended this connection; run() already tore it down
        except Exception:  # one client's bug must never take the gateway down
            log.exception("connection handler failed")
            metrics.error("InternalError")
        finally:
            self._connections.pop(task, None)
            metrics.connections_open.dec()

    async def stop(self, drain_timeout_s: float) -> None:
        """Stop accepting; end idle connections now (their sessions closed on the engines) and give
        the ones with a call or a statement still running up to `drain_timeout_s` to finish it."""
        if self._server is None:
            return
        self._server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_timeout_s
        if self._connections:
            busy = sum(not c.quiet for c in self._connections.values())
            log.info("draining client connections", extra={"connections": len(self._connections), "busy": busy})
        ended: set[asyncio.Task[None]] = set()  # cancelled once: a second cancel would cut their teardown
        while self._connections:
            for task, connection in list(self._connections.items()):
                if task not in ended and connection.quiet:
                    task.cancel()
                    ended.add(task)
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.wait(set(self._connections), timeout=min(_DRAIN_POLL_S, remaining))
        pending = set(self._connections)
        for task in pending - ended:
            task.cancel()  # out of time: their teardown still cancels the statements and closes sessions
        if pending:
            await asyncio.wait(pending, timeout=self.ctx.config.server.teardown_timeout_s + 1)
        await self._server.wait_closed()
