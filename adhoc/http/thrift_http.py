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
- authentication is per request (thrift_http_auth): the gateway's cookie, or Basic through the one
  login step.
- teardown: a session unused for `session_idle_timeout_s` is closed on the engine (its operations
  cancelled), as HiveServer2's hive.server2.idle.session.timeout does; stopping closes them all.
The HTTP itself (thrift_http_socket, protocol/http1) answers a status call of an ended operation
from memory where its bytes arrive, as the binary port does: Hive JDBC makes one per row it reads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from adhoc.errors import AdhocError, AuthenticationError, EngineUnavailable
from adhoc.gateway.calls import CallHandler
from adhoc.gateway.context import GatewayContext
from adhoc.http.client_address import client_peer
from adhoc.http.thrift_http_auth import HttpAuth, Unauthorized, Who
from adhoc.http.thrift_http_socket import Answer, Responder, ThriftHttpConnection, close_connections
from adhoc.protocol import hs2
from adhoc.protocol.backend_stream import Reply
from adhoc.protocol.client_stream import Request
from adhoc.protocol.http1 import Request as HttpRequest
from adhoc.protocol.http1 import response_head
from adhoc.protocol.status_call import status_call
from adhoc.protocol.thrift_binary import CALL, read_message

log = logging.getLogger("adhoc.http")

THRIFT = b"application/x-thrift"
TEXT = b"text/plain; charset=utf-8"
KEEPALIVE_S = 75.0  # an HTTP connection idle this long between requests is closed (aiohttp's default)
CHALLENGE = b'WWW-Authenticate: Basic realm="adhoc", charset="UTF-8"\r\n'


@dataclass(eq=False)
class HttpSession:
    calls: CallHandler
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)

    @property
    def user(self) -> str:
        return self.calls.principal.name if self.calls.principal else ""


class ThriftHttp(Responder):
    """The sessions opened over HTTP, and the answer to each request."""

    def __init__(self, ctx: GatewayContext, path: str) -> None:
        self.ctx = ctx
        self.paths = {path.encode(), path.encode() + b"/"}
        self.auth = HttpAuth(ctx)
        self.sessions: dict[bytes, HttpSession] = {}  # session GUID -> its call layer
        self.operations: dict[bytes, HttpSession] = {}  # operation GUID -> the session's
        self._reaper: asyncio.Task[None] | None = None

    # -- requests ----------------------------------------------------------------------------------

    def _client(self, request: HttpRequest, peer: str) -> str:
        """The TCP peer, or behind a trusted proxy the client it forwards for (client_address.py)."""
        trusted = self.ctx.config.server.trusted_proxies
        if not trusted:
            return peer
        forwarded = request.headers.get(b"x-forwarded-for")
        return client_peer(trusted, peer, forwarded.decode("latin-1") if forwarded is not None else None)

    def answer_now(self, request: HttpRequest, peer: str) -> Answer | None:
        """The answer when it needs no waiting: a refusal, or a status call of an ended operation
        of a client known already (what `answer` would say, sooner). None: take `answer`."""
        refused = self._refusal(request)
        if refused is not None:
            return refused
        peer = self._client(request, peer)
        try:
            who = self.auth.known(request.headers, peer)
        except Unauthorized as e:
            return _unauthorized(e.message, request)
        if who is None or who.fresh:
            return None  # a login to do, or a cookie to issue
        call = status_call(request.body)
        if call is None:
            return None
        session = self.operations.get(call[1])
        if session is None or session.lock.locked() or not _owns(session, who):
            return None
        answer = session.calls.answer_ended_status(call[0], call[1], framed=False)
        if answer is None:
            return None
        session.last_used = time.monotonic()
        return response_head(200, len(answer), THRIFT, keep_alive=request.keep_alive) + answer

    async def answer(self, request: HttpRequest, peer: str) -> Answer:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        peer = self._client(request, peer)
        try:
            who = await self.auth.authenticate(request.headers, peer)
        except Unauthorized as e:
            return _unauthorized(e.message, request)
        cookie = self.auth.cookies.set_cookie_header(who.principal.name) if who.fresh and who.principal else b""
        body = request.body
        try:
            header, args, _ = read_message(body)
        except AdhocError as e:
            text = f"{e.message}\n".encode()
            return response_head(400, len(text), TEXT, cookie, request.keep_alive) + text
        call = Request(header, args, body)
        if header.name == "OpenSession" and len(self.sessions) >= self.ctx.config.server.max_connections:
            # each HTTP session holds an engine connection until closed or idle for session_idle_timeout_s
            limit = self.ctx.config.server.max_connections
            refusal = EngineUnavailable(f"too many sessions over HTTP ({limit}, [server] max_connections): close "
                                        "some, or try again later")  # fmt: skip
            refused = _thrift_refusal(body, refusal) or b""
            return response_head(200, len(refused), THRIFT, cookie, request.keep_alive) + refused
        session = self._session_for(call, who, peer)
        async with session.lock:
            session.last_used = time.monotonic()
            out = await session.calls.handle(call)
            self._index(session, header.name)
        reply = out.message if isinstance(out, Reply) else out
        return [response_head(200, len(reply), THRIFT, cookie, request.keep_alive), reply]

    def _refusal(self, request: HttpRequest) -> bytes | None:
        if request.target.split(b"?", 1)[0] not in self.paths:
            text = b"not found: Thrift is served at POST " + min(self.paths) + b"\n"
            return response_head(404, len(text), TEXT, keep_alive=request.keep_alive) + text
        if request.method != b"POST":
            text = b"only POST is served here\n"
            return response_head(405, len(text), TEXT, b"Allow: POST\r\n", request.keep_alive) + text
        return None

    def _session_for(self, call: Request, who: Who, peer: str) -> HttpSession:
        name = call.header.name
        known: HttpSession | None = None
        if name in hs2.OPERATION_CALLS:
            ref = hs2.operation_handle_in(hs2.request_of(call.args))
            known = self.operations.get(ref.handle.guid) if ref else None
        elif name != "OpenSession":
            ref = hs2.session_handle_in(hs2.request_of(call.args))
            known = self.sessions.get(ref.handle.guid) if ref else None
        if known is not None and _owns(known, who):
            return known
        # OpenSession, or a handle this user does not hold: a fresh call layer (which then answers
        # "Invalid SessionHandle", exactly as the binary port does for another connection's handle)
        calls = CallHandler(self.ctx, peer, via="thrift-http")
        calls.principal, calls.password = who.principal, who.password
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


def _owns(session: HttpSession, who: Who) -> bool:
    return who.principal is None or session.user == who.principal.name


def _unauthorized(message: str, request: HttpRequest) -> bytes:
    """401, as HiveServer2's ThriftHttpServlet answers a failed login (its text: "Authentication
    Error: <why>"). Hive JDBC and impyla look at the status and stop there ("HTTP Response code:
    401"); pyhive's Thrift HTTP client never does and reads the body as the call's reply, so a Thrift
    call gets its reply with an ERROR status saying that (sqlState 28000): pyhive raises
    OperationalError naming the failed login instead of misreading text as a frame length."""
    text = f"Authentication Error: {message}"
    reply = _thrift_refusal(request.body, AuthenticationError(text))
    body, content_type = (reply, THRIFT) if reply is not None else ((text + "\n").encode(), TEXT)
    return response_head(401, len(body), content_type, CHALLENGE, request.keep_alive) + body


def _thrift_refusal(body: bytes, error: AdhocError) -> bytes | None:
    """The reply refusing `body` with `error` when it is a Thrift call, else None."""
    try:
        header, args, _ = read_message(body)
    except AdhocError:
        return None
    if header.type != CALL or header.name not in hs2.KNOWN_CALLS:
        return None
    protocol = hs2.PROTOCOL_V1
    if header.name == "OpenSession":  # the version a reply must carry (clients check it after the status)
        asked = hs2.OpenSessionReq(hs2.request_of(args)).client_protocol
        protocol = min(asked or hs2.PROTOCOL_V1, hs2.MAX_PROTOCOL)
    return hs2.error_reply(header.name, header.seqid, error, protocol=protocol)


class ThriftHttpServer:
    """The HTTP transport's listener, a lifecycle part of `adhoc serve`."""

    name = "thrift http server"

    def __init__(self, ctx: GatewayContext, host: str, port: int, path: str) -> None:
        self.ctx = ctx
        self.host, self.port = host, port
        self.path = "/" + path.strip("/")
        self.transport = ThriftHttp(ctx, self.path)
        self._server: asyncio.Server | None = None
        self._connections: set[ThriftHttpConnection] = set()

    async def start(self) -> None:
        server = self.ctx.config.server

        def connection() -> ThriftHttpConnection:
            # a request's head and body must arrive within handshake_timeout_s of its first byte
            return ThriftHttpConnection(self.transport, server.max_frame_bytes, server.handshake_timeout_s,
                                        KEEPALIVE_S, server.write_timeout_s, self._connections,
                                        server.max_connections)  # fmt: skip

        self._server = await asyncio.get_running_loop().create_server(connection, self.host, self.port, backlog=1024)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self.transport.start_reaper()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self.transport.close_all()
        close_connections(self._connections)
        self._server = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"
