"""With several replicas (`[ha]`), a session's links work on whichever replica a request lands on.

A Service or an ingress sends `/ui/<id>/…`, `/logs/<id>/…` or `/api/v1/sessions/<id>` to any
replica. The one holding the session answers from its own memory (the live Spark UI proxy, the log
collector's view, the record); any other asks the fleet (ZooKeeper) which replica holds it and
relays the request there, the client's credentials included: the owner checks them as for a
request of its own, so permissions are exactly as on one replica. A relayed request carries
FORWARDED_HEADER and is never relayed again (no loops when the fleet's view lags by a moment).
A session that ended on another replica is answered here from what the fleet remembers of it
(adhoc.ha.ended): its history link redirects as on its own replica. Sessions the fleet does not
know (never opened, or forgotten after their retention) are left to the local handlers: 404.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Middleware

from adhoc.gateway.context import GatewayContext
from adhoc.gateway.ended_sessions import EndedSession

log = logging.getLogger("adhoc.http")

FORWARDED_HEADER = "X-Adhoc-Relayed"
SESSION_PATH = re.compile(r"^/(?:ui|logs)/([0-9a-f-]{36})(?:/|$)|^/api/v1/sessions/([0-9a-f-]{36})$")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-authorization",
              "proxy-authenticate", "trailer", "host", "content-length"}  # fmt: skip
TIMEOUT = aiohttp.ClientTimeout(total=None, connect=3, sock_read=60)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def to_owning_replica(ctx: GatewayContext) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        match = SESSION_PATH.match(request.path)
        if match is None or request.method not in ("GET", "HEAD") or FORWARDED_HEADER in request.headers:
            return await handler(request)
        session_id = match.group(1) or match.group(2)
        if ctx.sessions.get(session_id) is not None or ctx.ended_sessions.get(session_id) is not None:
            return await handler(request)
        facts = await ctx.fleet.owner_of(session_id)
        owner = str(facts.get("replica", "")) if facts else ""
        if owner and owner != ctx.replica_url:
            return await relay(request, owner)
        if not owner:  # ended on another replica? Then its history link is answered here
            ended = await ctx.fleet.ended_session(session_id)
            if ended is not None:
                ctx.ended_sessions.remember(ended_from(ended))
        return await handler(request)

    return middleware


def ended_from(facts: dict[str, object]) -> EndedSession:
    return EndedSession(str(facts.get("session_id", "")), str(facts.get("user", "")), str(facts.get("engine", "")),
                        str(facts.get("app_id", "")), float(str(facts.get("ended_at") or 0)))  # fmt: skip


async def relay(request: web.Request, owner: str) -> web.StreamResponse:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers[FORWARDED_HEADER] = "1"
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT, auto_decompress=False) as client:
            async with client.request(request.method, owner + request.path_qs, headers=headers,
                                      allow_redirects=False) as upstream:  # fmt: skip
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                for key, value in upstream.headers.items():
                    if key.lower() not in HOP_BY_HOP:
                        response.headers.add(key, value)
                await response.prepare(request)
                async for chunk in upstream.content.iter_chunked(64 * 1024):
                    await response.write(chunk)
                await response.write_eof()
                return response
    except (aiohttp.ClientError, TimeoutError) as e:
        log.warning("relaying to the owning replica failed", extra={"replica": owner, "error": str(e)})
        raise web.HTTPBadGateway(text=f"the replica holding this session ({owner}) did not answer\n") from None
