"""The JSON API and the metrics.

GET /metrics                  Prometheus text
GET /api/v1/sessions[/{id}]   the caller's sessions (Basic auth, checked as on Thrift); with [ha], on
                              every replica (a session held elsewhere: see fleet_forward.py)
GET /api/v1/engines           probe figures per engine and the queue (with auth on, a waiter's user name
                              only for that user and admins: who waits is not everyone's business)
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adhoc.gateway.context import GatewayContext
from adhoc.http.basic_auth import authenticate_request
from adhoc.http.viewer import may_see, viewer


def add_routes(app: web.Application, ctx: GatewayContext) -> None:
    async def metrics(request: web.Request) -> web.Response:
        resp = web.Response(body=generate_latest(ctx.metrics.registry))
        resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return resp

    async def sessions(request: web.Request) -> web.Response:
        principal = await authenticate_request(ctx, request)
        mine = [r.to_json() for r in ctx.sessions if r.user == principal.name]
        here = {s["session_id"] for s in mine}
        # with [ha]: the user's open sessions on the other replicas, as those recorded them
        mine += [facts for facts in await ctx.fleet.sessions_of(principal.name) if facts["session_id"] not in here]
        return web.json_response({"sessions": mine})

    async def session(request: web.Request) -> web.Response:
        principal = await authenticate_request(ctx, request)
        record = ctx.sessions.get(request.match_info["session_id"])
        if record is None or record.user != principal.name:
            raise web.HTTPNotFound(text="no such session of yours\n")
        return web.json_response(record.to_json())

    async def engines(request: web.Request) -> web.Response:
        """Routing's figures per engine and the queue (length, each waiter's position and wait)."""
        principal = await viewer(ctx, request, required=False)
        out = []
        by_name = {e.name: e for e in ctx.router.engines()}
        for view in await ctx.router.engine_views():
            row = view.to_json()
            row["spark_ui_url"] = by_name[view.name].ui_url
            row["open_sessions"] = sum(1 for r in ctx.sessions.open_sessions() if r.engine == view.name)
            out.append(row)
        status = ctx.router.status()
        status["queue"] = [entry if may_see(ctx, principal, entry["user"]) else {**entry, "user": ""}
                           for entry in status["queue"]]  # fmt: skip
        return web.json_response({"engines": out, **status})

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/sessions", sessions)
    app.router.add_get("/api/v1/sessions/{session_id}", session)
    app.router.add_get("/api/v1/engines", engines)
