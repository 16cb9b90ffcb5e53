"""The Thrift listener: accepts clients, enforces the connection limit, drains on shutdown."""

from __future__ import annotations

import asyncio
import logging

from adhoc.gateway.connection import ClientConnection, ClientProtocol
from adhoc.gateway.context import GatewayContext

log = logging.getLogger("adhoc.gateway")


class ThriftServer:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

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

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        metrics = self.ctx.metrics
        if len(self._connections) >= self.ctx.config.server.max_connections:
            metrics.error("TooManyConnections")
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        metrics.connections.inc()
        metrics.connections_open.inc()
        try:
            await ClientConnection(self.ctx, reader, writer).run()
        except asyncio.CancelledError:
            pass  # stop() ended this connection after the drain period; run() already tore it down
        except Exception:  # one client's bug must never take the gateway down
            log.exception("connection handler failed")
            metrics.error("InternalError")
        finally:
            self._connections.discard(task)
            metrics.connections_open.dec()

    async def stop(self, drain_timeout_s: float) -> None:
        """Stop accepting, give open connections `drain_timeout_s` to finish, then end them."""
        if self._server is None:
            return
        self._server.close()
        if self._connections:
            log.info("draining client connections", extra={"connections": len(self._connections)})
            _, pending = await asyncio.wait(set(self._connections), timeout=drain_timeout_s)
            for task in pending:
                task.cancel()  # their teardown still closes engine sessions
            if pending:
                await asyncio.wait(pending, timeout=self.ctx.config.server.teardown_timeout_s + 1)
        await self._server.wait_closed()
