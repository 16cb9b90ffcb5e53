"""The HTTP side: health, metrics, and the session/engine API.

GET /livez                    the process is up
GET /readyz                   200 when at least one engine is reachable, else 503
GET /metrics                  Prometheus text
GET /api/v1/sessions[/{id}]   the caller's sessions (Basic auth, checked as on Thrift)
GET /api/v1/engines           probe figures per engine
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adhoc.auth import Principal
from adhoc.errors import AuthenticationError
from adhoc.gateway.context import GatewayContext
from adhoc.http import page, ui_proxy

_CTX = web.AppKey("ctx", GatewayContext)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(ctx: GatewayContext, connection_count: Callable[[], int] = lambda: 0) -> web.Application:
    app = web.Application()
    app[_CTX] = ctx

    async def livez(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        probes = [await ctx.router.probe(engine) for engine in ctx.router.engines()]
        ready = any(p.available for p in probes)
        body = {"ready": ready, "engines": {p.engine: p.reason for p in probes}}
        return web.json_response(body, status=200 if ready else 503)

    async def metrics(request: web.Request) -> web.Response:
        resp = web.Response(body=generate_latest(ctx.metrics.registry))
        resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return resp

    async def sessions(request: web.Request) -> web.Response:
        principal = await _authenticate(ctx, request)
        mine = [r.to_json() for r in ctx.sessions if r.user == principal.name]
        return web.json_response({"sessions": mine})

    async def session(request: web.Request) -> web.Response:
        principal = await _authenticate(ctx, request)
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

    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/sessions", sessions)
    app.router.add_get("/api/v1/sessions/{session_id}", session)
    app.router.add_get("/api/v1/engines", engines)
    ui_proxy.add_routes(app, ctx)
    page.add_routes(app, ctx)
    return app


async def _authenticate(ctx: GatewayContext, request: web.Request) -> Principal:
    challenge = {"WWW-Authenticate": 'Basic realm="adhoc"'}
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        raise web.HTTPUnauthorized(headers=challenge, text="Basic authentication required\n")
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise web.HTTPUnauthorized(headers=challenge, text="malformed Basic credentials\n") from None
    peer = request.remote or ""
    try:
        return await ctx.authenticator.authenticate(user, password, peer)
    except AuthenticationError as e:
        raise web.HTTPUnauthorized(headers=challenge, text=e.message + "\n") from None
