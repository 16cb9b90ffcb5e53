"""`/ui/<session_id>/…`: a reverse proxy to the live Spark UI of one session's engine.

The thin I/O shell around ui_rewrite (what may be fetched, how links are rewritten) and ui_target
(where a session id leads). Bodies stream through: only HTML is looked at, a tag at a time; static
files and the REST API pass untouched, compressed as Spark sent them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from adhoc.errors import RefusedRequest
from adhoc.gateway.context import GatewayContext
from adhoc.gateway.engine_ui import engine_is_shared
from adhoc.http.ui_rewrite import (
    HtmlRewriter,
    Upstream,
    check_request_headers,
    checked_tail,
    is_html,
    public_prefix,
    response_headers,
    upstream_request_headers,
)
from adhoc.http.ui_scope import scope_of
from adhoc.http.ui_shared import SharedView, UpstreamUnavailable
from adhoc.http.ui_target import ProxyTo, RedirectTo, ui_target
from adhoc.http.viewer import auth_is_on, may_see, viewer

log = logging.getLogger("adhoc.http")

CONNECT_TIMEOUT_S = 3.0  # a driver that does not accept within this is gone: redirect
HEADERS_TIMEOUT_S = 10.0  # nor answer at all within this
READ_TIMEOUT_S = 60.0  # between two chunks of a body already under way
_CLIENT = web.AppKey("ui_proxy_client", aiohttp.ClientSession)


def add_routes(app: web.Application, ctx: GatewayContext) -> None:
    app.cleanup_ctx.append(_client_session)
    handler = _Handler(ctx, app)
    app.router.add_route("*", "/ui/{session_id}", handler.handle)
    app.router.add_route("*", "/ui/{session_id}/{tail:.*}", handler.handle)


async def _client_session(app: web.Application) -> AsyncIterator[None]:
    connector = aiohttp.TCPConnector(limit=200, limit_per_host=32, keepalive_timeout=30)
    timeout = aiohttp.ClientTimeout(connect=CONNECT_TIMEOUT_S, sock_read=READ_TIMEOUT_S)
    app[_CLIENT] = aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(), skip_auto_headers=("User-Agent",),
    )  # fmt: skip
    yield
    await app[_CLIENT].close()


class _Handler:
    def __init__(self, ctx: GatewayContext, app: web.Application) -> None:
        self.ctx = ctx
        self.app = app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ctx = self.ctx
        session_id = request.match_info["session_id"]
        try:
            check_request_headers(_lower(request.headers), self._own_hosts(request))
            raw_tail = _raw_tail(request.raw_path)
            tail = checked_tail(raw_tail)
        except RefusedRequest as e:
            raise web.HTTPBadRequest(text=e.message + "\n") from None
        principal = await viewer(ctx, request)
        record = ctx.sessions.get(session_id)
        live_ui_url = None
        if record is not None and record.open and not record.engine_ui_url and may_see(ctx, principal, record.user):
            live_ui_url = await ctx.ui_resolver.resolve(record)
        target = ui_target(
            session_id, record, ctx.ended_sessions.get(session_id), ctx.public_url, self._history_url, live_ui_url
        )
        if target is None:
            raise web.HTTPNotFound(text=f"no session {session_id} is known here\n")
        if not may_see(ctx, principal, target.owner):
            raise web.HTTPForbidden(text=f"session {session_id} belongs to another user\n")
        if request.method not in ("GET", "HEAD"):
            # The UI's kill buttons would act on a shared engine's other sessions too.
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"], text="the Spark UI is read-only here\n")
        if isinstance(target, RedirectTo):
            raise web.HTTPFound(target.location)
        prefix = public_prefix(ctx.public_url, session_id)
        if not tail:
            raise web.HTTPFound(prefix + "/" + (f"?{_raw_query(request)}" if _raw_query(request) else ""))
        if (
            record is not None
            and auth_is_on(ctx)
            and self._shared(record.engine)
            and not (principal is not None and ctx.authorizer.is_admin(principal))
        ):
            # Other users' statements run in this Spark app too: only the session's own work.
            view = SharedView(self.app[_CLIENT], target.upstream, frozenset(record.statement_ids), prefix)
            try:
                answer = await view.answer(scope_of(tail, _raw_query(request)), tail, _raw_query(request))
            except UpstreamUnavailable as e:
                log.info("Spark UI does not answer: redirecting", extra={"error": str(e)})
                raise web.HTTPFound(target.fallback) from None
            if answer is not None:
                return answer
        return await self._proxy(request, target, prefix, tail)

    def _shared(self, engine_name: str) -> bool:
        engine = next((e for e in self.ctx.config.effective_engines() if e.name == engine_name), None)
        return engine is None or engine_is_shared(engine)

    async def _proxy(self, request: web.Request, target: ProxyTo, prefix: str, tail: str) -> web.StreamResponse:
        upstream = target.upstream
        url = upstream.url_for(tail, _raw_query(request))
        headers = upstream_request_headers(request.headers, prefix, tail)
        client = self.app[_CLIENT]
        try:
            async with asyncio.timeout(HEADERS_TIMEOUT_S):
                reply = await client.request(
                    request.method, URL(url, encoded=True), headers=headers, allow_redirects=False
                )
        except (aiohttp.ClientError, TimeoutError) as e:
            log.info("Spark UI does not answer: redirecting", extra={"url": upstream.origin, "error": str(e)})
            raise web.HTTPFound(target.fallback) from None
        async with reply:
            return await _relay(request, reply, upstream, prefix)

    def _history_url(self, engine_name: str) -> str:
        for engine in self.ctx.router.engines():
            if engine.name == engine_name:
                return engine.history_url
        return ""

    def _own_hosts(self, request: web.Request) -> frozenset[str]:
        public = urlsplit(self.ctx.public_url)
        return frozenset(h.lower() for h in (request.host, public.netloc, public.hostname or "") if h)


async def _relay(
    request: web.Request, reply: aiohttp.ClientResponse, upstream: Upstream, prefix: str
) -> web.StreamResponse:
    rewriting = is_html(reply.headers.get("Content-Type", "")) and request.method != "HEAD"
    rewriter = None
    if rewriting:
        try:
            rewriter = HtmlRewriter(upstream, prefix, reply.headers.get("Content-Encoding", ""))
        except ValueError:
            rewriting = False  # an encoding we cannot undo: pass the page as it is
    response = web.StreamResponse(status=reply.status, reason=reply.reason)
    response.headers.update(CIMultiDict(response_headers(reply.headers, upstream, prefix, rewriting)))
    await response.prepare(request)
    if request.method == "HEAD":
        await response.write_eof()
        return response
    async for chunk in reply.content.iter_any():
        out = rewriter.feed(chunk) if rewriter is not None else chunk
        if out:
            await response.write(out)
    if rewriter is not None:
        await response.write(rewriter.flush())
    await response.write_eof()
    return response


def _raw_tail(raw_path: str) -> str:
    """The still-encoded path after /ui/<session_id>, as the client sent it."""
    path = raw_path.split("?", 1)[0]
    rest = path[len("/ui/") :] if path.startswith("/ui/") else ""
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else ""


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():  # a header sent twice is checked in full
        key = name.lower()
        out[key] = f"{out[key]},{value}" if key in out else value
    return out


def _raw_query(request: web.Request) -> str:
    """The query string as sent (aiohttp's query_string is decoded: %2F would become /)."""
    return request.raw_path.partition("?")[2]
