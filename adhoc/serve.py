"""`adhoc serve`: assemble the gateway from its config and run it until SIGTERM/SIGINT.

The gateway is one ordered list of parts (adhoc.lifecycle), started in order and stopped in
reverse:

    listen ports      checked free first, so a taken port fails in a second, not after the engine
    data dir lock     one adhoc per data dir (only with an embedded engine: it owns the metastore)
    embedded engines  Spark Thrift Servers adhoc launches itself
    gateway context   router over the engines, authentication, policy, audit file
    analysis pool     the worker process big statements are analysed in (stopped after the servers)
    thrift server     stop = drain: running statements get server.drain_timeout_s
    thrift http       HiveServer2's HTTP transport (adhoc.http.thrift_http); its sessions closed at stop
    http server

A new part (the log collector, background probes) is a `Service` added to `Gateway.parts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
import signal
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from adhoc.auth.build import build_authenticator
from adhoc.authz import AllowAll
from adhoc.authz.audit import AuditLog
from adhoc.authz.build import build_authorizer
from adhoc.config import Config
from adhoc.engines import Engine
from adhoc.engines.data_dir import DataDirLock
from adhoc.engines.embedded import EmbeddedSTS, log_progress
from adhoc.errors import ConfigError, StartupConflict
from adhoc.gateway.context import GatewayContext, log_audit
from adhoc.gateway.login import flush_refusal_repeats
from adhoc.gateway.metrics import Metrics
from adhoc.gateway.server import ThriftServer
from adhoc.http.app import HttpServer
from adhoc.http.logs import register_cost_metrics
from adhoc.http.thrift_http import ThriftHttpServer
from adhoc.lifecycle import Lifecycle, Part, Service
from adhoc.logs.service import LogCollection
from adhoc.routing import CapacityRouter, build_router

if TYPE_CHECKING:
    from adhoc.ha.zookeeper import ZooKeeperFleet

log = logging.getLogger("adhoc")

Progress = Callable[[str], None]


def check_port_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            flag = "--" + what.rsplit(".", 1)[-1].replace("_", "-")
            raise StartupConflict(
                f"cannot listen on {host}:{port} ({e.strerror}): is another adhoc running? use {flag} N"
            ) from None


FDS_PER_CONNECTION = 2  # the client's socket and the engine connection it gets
FDS_RESERVED = 64  # listeners, the log, the audit file, probes, the analysis worker's pipes


def raise_open_files_limit(max_connections: int, progress: Progress) -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (the default soft limit, often 1,024, would
    cap the gateway near 500 clients) and say so when even that cannot hold `max_connections`.
    Returns how many client connections the limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as e:
            log.warning("cannot raise the open-files limit", extra={"soft": soft, "hard": hard, "error": str(e)})
    allowed = max(0, (soft - FDS_RESERVED) // FDS_PER_CONNECTION)
    if max_connections > allowed:
        progress(f"the open-files limit ({soft}) allows about {allowed} client connections ({FDS_PER_CONNECTION} "
                 f"descriptors each: client and engine), fewer than [server] max_connections = {max_connections}; "
                 "raise it (ulimit -n, systemd LimitNOFILE) or lower max_connections")  # fmt: skip
    return allowed


class Gateway:
    """A gateway's parts, in start order. `start()` runs them all; `close()` stops them in reverse."""

    def __init__(self, config: Config, engines: list[Engine] | None = None, progress: Progress = log_progress) -> None:
        self.config = config
        self.progress = progress
        server = config.server
        # "~/x" and a path relative to the config file, as for every other path the config names
        data_dir = os.path.abspath(config.resolve(os.path.expanduser(server.data_dir)))
        self.embedded: list[EmbeddedSTS] = []
        self._engines = engines
        if engines is None:
            self.embedded = [
                EmbeddedSTS(e, data_dir, progress=progress) for e in config.effective_engines() if e.embedded
            ]
        self._ctx: GatewayContext | None = None
        self.logs = LogCollection(config, data_dir)  # one collector per k8s engine; none without
        self._thrift: ThriftServer | None = None
        self._http: HttpServer | None = None
        self._thrift_http: ThriftHttpServer | None = None
        self._zookeeper: ZooKeeperFleet | None = None
        self.parts: list[Service] = [
            Part("listen ports", self._check_ports),
            *([DataDirLock(data_dir)] if self.embedded else []),
            *self.embedded,
            Part("gateway context", self._build_context, self._close_context),
            self.logs,
            Part("analysis pool", stop=lambda: self.ctx.analysis_pool.close()),
            Part("thrift server", self._start_thrift, self._stop_thrift),
            *([Part("thrift http server", self._start_thrift_http, self._stop_thrift_http)]
              if config.server.thrift_http_port else []),
            Part("http server", self._start_http, self._stop_http),
            Part("routing queue", stop=self._refuse_waiting),
            # last to start, first to stop: clients are sent here only while it serves, and SIGTERM
            # takes it out of ZooKeeper discovery before the drain
            *([Part("zookeeper registration", self._register, self._deregister)] if config.ha.zookeeper else []),
        ]
        self.lifecycle = Lifecycle(self.parts)

    @property
    def ctx(self) -> GatewayContext:
        assert self._ctx is not None, "the gateway has not started"
        return self._ctx

    @property
    def thrift_address(self) -> tuple[str, int]:
        assert self._thrift is not None, "the gateway has not started"
        return self._thrift.address

    @property
    def http_port(self) -> int:
        return self._http.port if self._http is not None else self.config.server.http_port

    @property
    def http_url(self) -> str:
        return f"http://{self.config.server.host}:{self.http_port}"

    async def start(self) -> None:
        await self.lifecycle.start()

    async def close(self) -> None:
        await self.lifecycle.stop()

    # -- parts -----------------------------------------------------------------------------------

    async def _check_ports(self) -> None:
        server = self.config.server
        raise_open_files_limit(server.max_connections, self.progress)
        check_port_free(server.host, server.thrift_port, "server.thrift_port")
        check_port_free(server.host, server.http_port, "server.http_port")
        if server.thrift_http_port:
            check_port_free(server.host, server.thrift_http_port, "server.thrift_http_port")

    async def _build_context(self) -> None:
        config = self.config
        engines = self._engines
        if engines is None:
            embedded = {e.config.name: e.engine for e in self.embedded}
            engines = [embedded.get(e.name) or Engine.from_config(e) for e in config.effective_engines()]
        metrics = Metrics()
        authorizer = build_authorizer(config)
        router = build_router(config, engines, registry=metrics.registry, limits=authorizer.group_limits)
        ctx = GatewayContext(
            config=config, router=router, metrics=metrics,
            authenticator=build_authenticator(config), authorizer=authorizer,
        )  # fmt: skip
        if config.audit.file:
            try:
                ctx.audit = AuditLog(config.resolve(config.audit.file))
            except OSError as e:
                raise ConfigError(
                    f"cannot open the audit file: {e.strerror}", file=config.source, key="audit.file"
                ) from None
        elif log.isEnabledFor(logging.DEBUG):
            ctx.audit = log_audit
        if config.ha.zookeeper:
            from adhoc.ha.zookeeper import ZooKeeperFleet  # kazoo only where [ha] asks for it

            self._zookeeper = ZooKeeperFleet(config, metrics.registry)
            await self._zookeeper.start()
            ctx.fleet = self._zookeeper
            ctx.sessions.subscribe(self._zookeeper)
            self.logs.claims = self._zookeeper  # one replica stores each pod's log
            if isinstance(router, CapacityRouter):  # caps, headroom and the queue count the other replicas too
                router.use_peers(self._zookeeper.peers)
        if self.logs.enabled:
            ctx.logs = self.logs
            ctx.sessions.subscribe(self.logs)
            register_cost_metrics(ctx)
        self._ctx = ctx

    async def _close_context(self) -> None:
        flush_refusal_repeats(self.ctx)
        if self._zookeeper is not None:
            await self._zookeeper.stop()
        await self.ctx.router.close()
        if isinstance(self.ctx.audit, AuditLog):
            self.ctx.audit.close()

    async def _start_thrift(self) -> None:
        self._thrift = ThriftServer(self.ctx)
        await self._thrift.start(self.config.server.host, self.config.server.thrift_port)

    async def _stop_thrift(self) -> None:
        if self._thrift is not None:
            await self._thrift.stop(self.config.server.drain_timeout_s)

    async def _start_thrift_http(self) -> None:
        server = self.config.server
        self._thrift_http = ThriftHttpServer(self.ctx, server.host, server.thrift_http_port, server.thrift_http_path)
        await self._thrift_http.start()

    async def _stop_thrift_http(self) -> None:
        if self._thrift_http is not None:
            await self._thrift_http.stop()

    @property
    def thrift_http_url(self) -> str:
        return self._thrift_http.url if self._thrift_http is not None else ""

    async def _start_http(self) -> None:
        self._http = HttpServer(self.ctx, self.config.server.host, self.config.server.http_port)
        await self._http.start()

    async def _stop_http(self) -> None:
        if self._http is not None:
            await self._http.stop()

    async def _register(self) -> None:
        assert self._zookeeper is not None
        http_port = self._thrift_http.port if self._thrift_http is not None else 0
        await self._zookeeper.register(self.thrift_address[1], http_port)

    async def _refuse_waiting(self) -> None:
        why = "adhoc is stopping (a restart or a scale-down): connect again; another replica takes the session"
        waiting = self.ctx.router.refuse_waiting(why)
        if waiting:
            log.info("stopping: sessions waiting in the queue told to connect again", extra={"sessions": waiting})

    async def _deregister(self) -> None:
        if self._zookeeper is not None:
            await self._zookeeper.deregister()


async def start_gateway(
    config: Config, engines: list[Engine] | None = None, progress: Progress = log_progress
) -> Gateway:
    """Start every part of a gateway (the embedded engine first, if configured)."""
    gateway = Gateway(config, engines, progress)
    await gateway.start()
    return gateway


async def serve(config: Config, announce: Callable[[str], None] = print, progress: Progress = log_progress) -> int:
    gateway = Gateway(config, progress=progress)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    starting = asyncio.ensure_future(gateway.start())
    interrupted = False

    def on_signal() -> None:
        nonlocal interrupted
        if starting.done():
            stop.set()
        else:  # during start-up: cancel the start; the parts already up are stopped in reverse
            interrupted = True
            starting.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        await starting
    except asyncio.CancelledError:
        if not interrupted:
            raise
        progress("stopped during start-up")
        return 1
    if isinstance(gateway.ctx.authorizer, AllowAll):
        progress("no [policy] file configured: every authenticated user may run any statement")
    # Start-up objects (config, sqlglot's tables, the policy) live forever: keep them out of the
    # collector's way so full collections stay short on the request path.
    gc.freeze()
    host, port = gateway.thrift_address
    extra = f" thrift_http={gateway.thrift_http_url}" if gateway.thrift_http_url else ""
    announce(f"adhoc ready thrift={host}:{port} http={gateway.http_url}{extra}")
    with contextlib.suppress(ValueError, OSError):
        sys.stdout.flush()
    await stop.wait()
    log.info("stopping: draining clients")
    await gateway.close()
    log.info("stopped")
    return 0
