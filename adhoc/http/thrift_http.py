"""HiveServer2's HTTP transport: Thrift over `POST /<thrift_http_path>` on `[server] thrift_http_port`.

    jdbc:hive2://host:10001/default;transportMode=http;httpPath=cliservice    (beeline, BI tools)
    hive.connect(host, 10001, scheme="http", ...)                             (pyhive)

Each POST carries one bare Thrift call (no SASL frames) and gets its reply as the body. The calls go
through the same call layer as the binary port (adhoc.gateway.calls.CallHandler): policy, routing,
`ADHOC DESC SESSION`, `[adhoc]` lines, answered statuses, errors and metrics read the same. What an
HTTP client lacks is a connection to own its sessions, so:
- each HS2 session opened over HTTP gets its own CallHandler (and so its own engine connection, as a
  binary HS2 session dies with its TCP connection); later calls find it by the session or operation
  handle they carry, and only for the user who opened it (another user's handle is unknown, as on
  binary). Calls of one session are answered one at a time, as on one binary connection.
- authentication is per request: HTTP Basic through the one login step (throttle, audit with
  `"via": "thrift-http"`), or the `hive.server2.auth` cookie the gateway sets after a Basic login
  (HMAC-signed, bound to the user, expiring): a client sending it back is not checked again. A
  forged or expired cookie without Basic is 401. With `[auth] method = "none"`, no credentials are
  needed: the user is Basic's user name if sent, else OpenSession's.
- teardown: a session unused for `session_idle_timeout_s` is closed on the engine (its operations
  cancelled), as HiveServer2's hive.server2.idle.session.timeout does; stopping closes them all.
Bodies above `max_frame_bytes` are refused (413) from their Content-Length, before being read.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import os
import time
from dataclasses import dataclass, field

from aiohttp import web

from adhoc.auth import Principal
from adhoc.errors import AdhocError
from adhoc.gateway.calls import CallHandler
from adhoc.gateway.context import GatewayContext
from adhoc.http.basic_auth import basic_credentials, login_basic, peer_of, unauthorized
from adhoc.protocol import hs2
from adhoc.protocol.backend_stream import Reply
from adhoc.protocol.client_stream import Request
from adhoc.protocol.thrift_binary import read_message

log = logging.getLogger("adhoc.http")

COOKIE = "hive.server2.auth"
COOKIE_TTL_S = 3600.0
THRIFT = "application/x-thrift"


@dataclass(eq=False)
class HttpSession:
    calls: CallHandler
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)

    @property
    def user(self) -> str:
        return self.calls.principal.name if self.calls.principal else ""


class Cookies:
    """`user|expires|hmac`, base64url: proves a Basic login of `user` happened here lately."""

    def __init__(self, ttl_s: float = COOKIE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._key = os.urandom(32)

    def issue(self, user: str) -> str:
        payload = f"{user}|{int(time.time() + self.ttl_s)}"
        mac = hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
        return base64.urlsafe_b64encode(f"{payload}|{mac}".encode()).decode()

    def user_of(self, cookie: str) -> str | None:
        try:
            user, expires, mac = base64.urlsafe_b64decode(cookie.encode()).decode().rsplit("|", 2)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        want = hmac.new(self._key, f"{user}|{expires}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, want) or not expires.isdigit() or int(expires) < time.time():
            return None
        return user


class ThriftHttp:
    """The sessions opened over HTTP, and the handler of `POST /<path>`."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.cookies = Cookies()
        self._principals: dict[str, Principal] = {}  # who each cookie's user was at login (groups included)
        self.sessions: dict[bytes, HttpSession] = {}  # session GUID -> its call layer
        self.operations: dict[bytes, HttpSession] = {}  # operation GUID -> the session's
        self._reaper: asyncio.Task[None] | None = None

    # -- requests ----------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        limit = self.ctx.config.server.max_frame_bytes
        if request.content_length is None and request.headers.get("Transfer-Encoding", "").lower() != "chunked":
            raise web.HTTPLengthRequired(text="a Content-Length is required\n")
        if request.content_length is not None and request.content_length > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
        peer = peer_of(request)
        principal, password, fresh = await self._authenticate(request, peer)
        body = await request.read()
        try:
            header, args, _ = read_message(body)
        except AdhocError as e:
            response = web.Response(status=400, text=f"not a Thrift message: {e.message}\n")
        else:
            call = Request(header, args, body)
            session = self._session_for(call, principal, password, peer)
            async with session.lock:
                session.last_used = time.monotonic()
                out = await session.calls.handle(call)
                self._index(session, header.name)
            response = web.Response(body=out.message if isinstance(out, Reply) else out, content_type=THRIFT)
        if fresh is not None:
            response.set_cookie(COOKIE, self.cookies.issue(fresh.name), httponly=True, max_age=int(COOKIE_TTL_S),
                                path="/")  # fmt: skip
        return response

    async def _authenticate(self, request: web.Request, peer: str) -> tuple[Principal | None, str, Principal | None]:
        """(who, password for the engine, who to issue a cookie for). A valid cookie comes first: a
        client sending it (beeline does, with Basic on every request too) costs no password check."""
        cookie = request.cookies.get(COOKIE)
        if cookie:
            cookie_user = self.cookies.user_of(cookie)
            known = self._principals.get(cookie_user) if cookie_user is not None else None
            if known is not None:
                return known, self._password_beside_cookie(request, known.name), None
            if "Authorization" not in request.headers:
                raise unauthorized("the session cookie is forged or expired")
        credentials = basic_credentials(request)
        if credentials is not None:
            user, password = credentials
            if self.ctx.config.auth.method == "none":
                return Principal(user), password, None
            known = await login_basic(self.ctx, user, password, peer, via="thrift-http")
            self._principals[user] = known
            return known, password, known
        if self.ctx.config.auth.method == "none":
            return None, "", None  # the user comes from OpenSession, as on the binary port
        raise unauthorized("Basic authentication required")

    @staticmethod
    def _password_beside_cookie(request: web.Request, user: str) -> str:
        """The password sent with a cookie'd request (a new session's engine connection needs it),
        only when it is the cookie user's."""
        try:
            credentials = basic_credentials(request)
        except web.HTTPUnauthorized:
            return ""
        return credentials[1] if credentials is not None and credentials[0] == user else ""

    def _session_for(self, call: Request, principal: Principal | None, password: str, peer: str) -> HttpSession:
        name = call.header.name
        known: HttpSession | None = None
        if name in hs2.OPERATION_CALLS:
            ref = hs2.operation_handle_in(hs2.request_of(call.args))
            known = self.operations.get(ref.handle.guid) if ref else None
        elif name != "OpenSession":
            ref = hs2.session_handle_in(hs2.request_of(call.args))
            known = self.sessions.get(ref.handle.guid) if ref else None
        if known is not None and (principal is None or known.user == principal.name):
            return known
        # OpenSession, or a handle this user does not hold: a fresh call layer (which then answers
        # "Invalid SessionHandle", exactly as the binary port does for another connection's handle)
        calls = CallHandler(self.ctx, peer, via="thrift-http")
        calls.principal, calls.password = principal, password
        return HttpSession(calls)

    def _index(self, session: HttpSession, name: str) -> None:
        for guid in session.calls.sessions:
            self.sessions.setdefault(guid, session)
        for guid in session.calls.operations:
            self.operations.setdefault(guid, session)
        if name in ("CloseSession", "CloseOperation"):
            self._forget_closed(session)

    def _forget_closed(self, session: HttpSession) -> None:
        for guid in [g for g, s in self.operations.items() if s is session and g not in session.calls.operations]:
            del self.operations[guid]
        if not session.calls.sessions:
            for guid in [g for g, s in self.sessions.items() if s is session]:
                del self.sessions[guid]
            for backend in session.calls.backends.values():
                backend.close()

    # -- idle sessions and stop ------------------------------------------------------------------------

    def start_reaper(self) -> None:
        self._reaper = asyncio.create_task(self._reap_idle(), name="adhoc-thrift-http-idle")

    async def _reap_idle(self) -> None:
        idle = self.ctx.config.server.session_idle_timeout_s
        while True:
            await asyncio.sleep(max(1.0, min(60.0, idle / 4)))
            now = time.monotonic()
            for session in {s for s in self.sessions.values() if now - s.last_used > idle and not s.lock.locked()}:
                log.info("closing an idle HTTP session",
                         extra={"user": session.user, "idle_s": round(now - session.last_used)})  # fmt: skip
                await self._close(session)

    async def _close(self, session: HttpSession) -> None:
        """Cancel its operations and close its sessions on the engine, then forget it."""
        async with session.lock:
            if not await session.calls.close_all(self.ctx.config.server.teardown_timeout_s):
                log.warning("closing an HTTP session on its engine ran out of time", extra={"user": session.user})
            self._forget_closed(session)

    async def close_all(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        await asyncio.gather(*(self._close(s) for s in set(self.sessions.values())), return_exceptions=True)


class ThriftHttpServer:
    """The HTTP transport's listener, a lifecycle part of `adhoc serve`."""

    name = "thrift http server"

    def __init__(self, ctx: GatewayContext, host: str, port: int, path: str) -> None:
        self.ctx = ctx
        self.host, self.port = host, port
        self.path = "/" + path.strip("/")
        self.transport = ThriftHttp(ctx)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        # client_max_size: aiohttp refuses larger bodies as it reads; handle() refuses them earlier,
        # from the Content-Length, so a 3 GB announcement costs nothing
        app = web.Application(client_max_size=self.ctx.config.server.max_frame_bytes)
        for path in {self.path, self.path + "/"}:
            app.router.add_post(path, self.transport.handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            self._runner = None
            raise
        sockets = getattr(site._server, "sockets", None)
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self.transport.start_reaper()

    async def stop(self) -> None:
        await self.transport.close_all()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"
