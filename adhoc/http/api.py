"""The JSON API and the metrics.

GET /metrics                  Prometheus text
GET /api/v1/sessions[/{id}]   the caller's sessions (Basic auth, checked as on Thrift)
GET /api/v1/engines           probe figures per engine
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adhoc.gateway.context import GatewayContext
from adhoc.http.basic_auth import authenticate_request


def add_routes(app: web.Application, ctx: GatewayContext) -> None:
    async def metrics(request: web.Request) -> web.Response:
        resp = web.Response(body=generate_latest(ctx.metrics.registry))
        resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return resp

    async def sessions(request: web.Request) -> web.Response:
        principal = await authenticate_request(ctx, request)
        mine = [r.to_json() for r in ctx.sessions if r.user == principal.name]
        return web.json_response({"sessions": mine})

    async def session(request: web.Request) -> web.Response:
        principal = await authenticate_request(ctx, request)
        record = ctx.sessions.get(request.match_info["session_id"])
        if record is None or record.user != principal.name:
            raise web.HTTPNotFound(text="no such session of yours\n")
        return web.json_response(record.to_json())

    async def engines(request: web.Request) -> web.Response:
        probes = {p.engine: p for p in ctx.router.probes()}
        out = []
        for engine in ctx.router.engines():
            probe = probes.get(engine.name)
            out.append({
                "name": engine.name, "kind": engine.kind, "protocol": engine.protocol,
                "address": engine.address, "available": probe.available if probe else None,
                "reason": probe.reason if probe else "not probed yet",
                "open_sessions": sum(1 for r in ctx.sessions.open_sessions() if r.engine == engine.name),
                "spark_ui_url": engine.ui_url,
            })  # fmt: skip
        return web.json_response({"engines": out, "queue_length": 0})

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/sessions", sessions)
    app.router.add_get("/api/v1/sessions/{session_id}", session)
    app.router.add_get("/api/v1/engines", engines)
