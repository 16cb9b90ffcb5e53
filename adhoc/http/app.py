"""The HTTP side of the gateway, one module per concern:

    health.py      GET /livez, GET /readyz
    api.py         GET /metrics, GET /api/v1/sessions[/{id}], GET /api/v1/engines
    basic_auth.py  authenticate_request(ctx, request) -> Principal, for modules that need a user
    logs.py        GET /logs/{session_id}/[{pod}]: K8s engine logs, live or stored
    fleet_forward.py  with [ha]: a session another replica holds is answered by that replica

A feature adds a module with `add_routes(app, ctx)` and a line in ROUTE_MODULES.
`HttpServer` is the lifecycle part `adhoc serve` starts and stops.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from adhoc.gateway.context import GatewayContext
from adhoc.http import api, fleet_forward, health, logs, page, ui_proxy

AddRoutes = Callable[[web.Application, GatewayContext], None]
ROUTE_MODULES: tuple[AddRoutes, ...] = (
    health.add_routes, api.add_routes, ui_proxy.add_routes, page.add_routes, logs.add_routes,
)  # fmt: skip

# For handlers written as module-level functions: `request.app[CTX]` is the gateway context.
CTX = web.AppKey("ctx", GatewayContext)


def build_app(ctx: GatewayContext) -> web.Application:
    app = web.Application(middlewares=[fleet_forward.to_owning_replica(ctx)])
    app[CTX] = ctx
    for add_routes in ROUTE_MODULES:
        add_routes(app, ctx)
    return app


class HttpServer:
    """The HTTP listener as a lifecycle part. `port` is the bound one (useful with port 0)."""

    name = "http server"

    def __init__(self, ctx: GatewayContext, host: str, port: int) -> None:
        self.ctx = ctx
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        runner = web.AppRunner(build_app(self.ctx), access_log=None, handle_signals=False)
        await runner.setup()
        self._runner = runner
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            self._runner = None
            raise
        sockets = getattr(site._server, "sockets", None)  # the real port when port = 0
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self.ctx.public_url = self.ctx.config.server.base_url(self.port)
        host = self.ctx.config.ha.advertised_host or self.host
        self.ctx.replica_url = f"http://{host}:{self.port}"

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
