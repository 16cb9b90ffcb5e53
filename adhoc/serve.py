"""`adhoc serve`: assemble the gateway from its config and run it until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from adhoc.auth.build import build_authenticator
from adhoc.authz import AllowAll
from adhoc.authz.audit import AuditLog
from adhoc.authz.build import build_authorizer
from adhoc.config import Config
from adhoc.engines import Engine
from adhoc.engines.embedded import EmbeddedSTS
from adhoc.errors import ConfigError
from adhoc.gateway.context import GatewayContext, log_audit
from adhoc.gateway.server import ThriftServer
from adhoc.http.app import build_app
from adhoc.routing import FirstReachable

log = logging.getLogger("adhoc")


def check_port_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror})", key=what) from None


@dataclass
class Gateway:
    """A running gateway: engines started, listeners bound. `close()` stops all of it."""

    config: Config
    ctx: GatewayContext
    thrift: ThriftServer
    http: web.AppRunner
    embedded: EmbeddedSTS | None = None
    http_port: int = 0
    _stopped: bool = field(default=False, repr=False)

    @property
    def thrift_address(self) -> tuple[str, int]:
        return self.thrift.address

    @property
    def http_url(self) -> str:
        return f"http://{self.config.server.host}:{self.http_port}"

    async def close(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        await self.thrift.stop(self.config.server.drain_timeout_s)
        await self.http.cleanup()
        await self.ctx.analysis_pool.close()
        if self.embedded is not None:
            await self.embedded.stop()


async def start_gateway(config: Config, engines: list[Engine] | None = None) -> Gateway:
    """Start engines (the embedded one if configured), then the Thrift and HTTP listeners."""
    server = config.server
    check_port_free(server.host, server.thrift_port, "server.thrift_port")
    check_port_free(server.host, server.http_port, "server.http_port")
    authenticator = build_authenticator(config)
    authorizer = build_authorizer(config)
    embedded: EmbeddedSTS | None = None
    if engines is None:
        engines = []
        for engine_config in config.effective_engines():
            if engine_config.embedded:
                embedded = EmbeddedSTS(engine_config, server.data_dir)
                engines.append(await embedded.start())
            else:
                engines.append(Engine.from_config(engine_config))
    router = FirstReachable(engines, probe_ttl_s=config.routing.probe_ttl_s)
    ctx = GatewayContext(config=config, router=router, authenticator=authenticator, authorizer=authorizer)
    if not config.audit.file and log.isEnabledFor(logging.DEBUG):
        ctx.audit = log_audit
    if config.audit.file:
        try:
            ctx.audit = AuditLog(config.resolve(config.audit.file))
        except OSError as e:
            raise ConfigError(
                f"cannot open the audit file: {e.strerror}", file=config.source, key="audit.file"
            ) from None
    thrift = ThriftServer(ctx)
    try:
        await thrift.start(server.host, server.thrift_port)
        runner = web.AppRunner(build_app(ctx), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, server.host, server.http_port)
        await site.start()
    except BaseException:
        await thrift.stop(0)
        if embedded is not None:
            await embedded.stop()
        raise
    http_port = server.http_port
    sockets = getattr(site._server, "sockets", None)  # the real port when http_port = 0
    if sockets:
        http_port = int(sockets[0].getsockname()[1])
    ctx.public_url = server.base_url(http_port)
    return Gateway(config, ctx, thrift, runner, embedded, http_port)


async def serve(config: Config, announce: Callable[[str], None] = print) -> int:
    gateway = await start_gateway(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if isinstance(gateway.ctx.authorizer, AllowAll):
        log.warning("no [policy] file configured: every authenticated user may run any statement")
    # Start-up objects (config, sqlglot's tables, the policy) live forever: keep them out of the
    # collector's way so full collections stay short on the request path.
    gc.freeze()
    host, port = gateway.thrift_address
    announce(f"adhoc ready thrift={host}:{port} http={gateway.http_url}")
    with contextlib.suppress(ValueError, OSError):
        sys.stdout.flush()
    await stop.wait()
    log.info("stopping: draining clients")
    await gateway.close()
    return 0
