"""Probes for the process supervisor (kubelet, systemd, a load balancer).

GET /livez    200 while the process serves HTTP at all
GET /readyz   200 when at least one engine is reachable (and, with [ha], ZooKeeper is), else 503;
              engines are probed in parallel
              and the answer comes within READY_BUDGET_S (a kubelet gives up after 1 s by default)
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from adhoc.gateway.context import GatewayContext
from adhoc.routing import EngineView

READY_BUDGET_S = 0.8


def add_routes(app: web.Application, ctx: GatewayContext) -> None:
    async def livez(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        engines = list(ctx.router.engines())
        # One task per engine, so a hanging one costs only itself; the probes are routing's own
        # (cached, single-flight) and carry on for the router if the budget runs out.
        tasks = [asyncio.ensure_future(ctx.router.engine_views([engine])) for engine in engines]
        done, pending = await asyncio.wait(tasks, timeout=READY_BUDGET_S) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        reasons: dict[str, str] = {}
        ready = False
        for engine, task in zip(engines, tasks, strict=True):
            if task in done and task.exception() is None:
                view: EngineView = task.result()[0]
                ready = ready or view.available
                reasons[engine.name] = view.reason
            elif task in done:
                reasons[engine.name] = f"probe failed: {task.exception()}"
            else:
                reasons[engine.name] = f"no answer within {READY_BUDGET_S:g} s"
        fleet = ctx.fleet.status()
        if fleet.get("mode") == "zookeeper" and not fleet.get("connected"):
            ready = False  # it would refuse every new session: let the load balancer send them elsewhere
        body = {"ready": ready, "engines": reasons, "fleet": fleet}
        return web.json_response(body, status=200 if ready else 503)

    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
