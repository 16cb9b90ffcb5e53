"""What every kind of call on one client connection shares: who the client is, its sessions and
operations (by the engine's GUIDs), its engine connections, and the bookkeeping between them.

The calls themselves live by concern beside this module (session_calls, statement_calls,
operation_calls); `calls.CallHandler` puts them together and dispatches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from adhoc.auth import Principal
from adhoc.authz import Decision, SessionState
from adhoc.engines import Engine
from adhoc.errors import EngineError, PermissionDenied, UnknownHandle
from adhoc.gateway.context import GatewayContext
from adhoc.gateway.engine_link import EngineConnection
from adhoc.gateway.login import Transport
from adhoc.gateway.operations import Operation
from adhoc.gateway.sessions import SessionRecord
from adhoc.protocol import hs2
from adhoc.protocol.backend_stream import Reply
from adhoc.protocol.thrift_binary import Struct, read_message

log = logging.getLogger("adhoc.gateway")

Outgoing = Reply | bytes  # an engine's reply frame, or a message the gateway wrote itself


@dataclass(slots=True)
class ClientSession:
    ref: hs2.HandleRef  # the TSessionHandle as the engine sent it
    record: SessionRecord
    backend: EngineConnection
    protocol: int
    state: SessionState = field(default_factory=SessionState)
    operations: dict[bytes, Operation] = field(default_factory=dict)
    in_flight: list[Operation] = field(default_factory=list)  # async statements Spark may not have resolved yet
    engine_asked: bool = False  # Kyuubi: KYUUBI DESC ENGINE was asked (for the session's UI link)
    release: Callable[[], None] = lambda: None  # frees the session's place in routing (group caps)

    @property
    def handle(self) -> hs2.Handle:
        return self.ref.handle


class CallBase:
    """The per-connection state; the call mixins read and change it through these helpers."""

    def __init__(self, ctx: GatewayContext, peer: str, via: Transport = "thrift") -> None:
        self.ctx = ctx
        self.peer = peer
        self.via: Transport = via  # how its logins are audited
        self.principal: Principal | None = None
        self.password = ""  # kept to open engine connections (and one for teardown); never logged
        self.sessions: dict[bytes, ClientSession] = {}
        self.operations: dict[bytes, Operation] = {}
        self.backends: dict[str, EngineConnection] = {}
        self.lost: dict[bytes, str] = {}  # sessions that died with their engine connection -> engine

    async def login(self, user: str, password: str) -> Principal:
        raise NotImplementedError  # calls.CallHandler

    # -- engines ---------------------------------------------------------------------------------

    async def connect(self, engine: Engine, timeout: float) -> EngineConnection:
        """A new connection to `engine` with this client's engine credentials."""
        user, password = engine.login_for(self._principal().name, self.password)
        return await self.ctx.connect_engine(engine, user, password, timeout)

    async def forward(self, backend: EngineConnection, message: bytes) -> Reply:
        reply = await backend.call(message)
        self.ctx.metrics.relayed(len(message), len(reply.frame))
        return reply

    def _principal(self) -> Principal:
        assert self.principal is not None  # a session exists only after login
        return self.principal

    def _enforce(self, decision: Decision, what: str) -> None:
        self.ctx.metrics.decision(decision.allowed)
        if not decision.allowed:
            raise PermissionDenied(decision.reason or f"{what} is not allowed")

    # -- sessions --------------------------------------------------------------------------------

    def session_of(self, req: Struct) -> ClientSession:
        """The session a session call names, if it is this connection's and its engine is there."""
        ref = hs2.session_handle_in(req)
        session = self.sessions.get(ref.handle.guid) if ref else None
        if session is not None and session.backend.broken:
            self.forget_session(session, lost=True)
            session = None
        if session is None:
            if ref is not None and ref.handle.guid in self.lost:
                raise EngineError(f"session {ref.handle.id} ended: the connection to engine "
                                  f"{self.lost[ref.handle.guid]} was lost; open a new session")  # fmt: skip
            shown = ref.handle.id if ref else "(none)"
            raise UnknownHandle(f"Invalid SessionHandle: session {shown} is not open on this connection")
        return session

    def forget_session(self, session: ClientSession, lost: bool = False) -> None:
        if self.sessions.pop(session.handle.guid, None) is None:
            return
        if lost:
            self.lost[session.handle.guid] = session.record.engine
        for guid in session.operations:
            self.operations.pop(guid, None)
        self.ctx.sessions.close(session.record.session_id)
        self.ctx.metrics.sessions_open.dec()
        session.release()

    async def close_all(self, budget_s: float) -> bool:
        """Cancel every operation and close every session on its engine (on a side connection where
        the main one is mid-call or broken), then forget them and close the engine connections.
        False when the budget ran out first (what was not closed then is gone with the connections)."""
        by_backend: dict[int, list[ClientSession]] = {}
        for session in list(self.sessions.values()):
            by_backend.setdefault(id(session.backend), []).append(session)
        try:
            async with asyncio.timeout(budget_s):
                await asyncio.gather(*(self._close_on(sessions, budget_s) for sessions in by_backend.values()),
                                     return_exceptions=True)  # fmt: skip
            return True
        except TimeoutError:
            return False
        finally:
            for session in list(self.sessions.values()):
                self.forget_session(session)
            for backend in self.backends.values():
                backend.close()

    async def _close_on(self, sessions: list[ClientSession], budget_s: float) -> None:
        main = sessions[0].backend
        conn = main
        if main.busy or main.broken:
            conn = await self.connect(main.engine, budget_s)
        try:
            for session in sessions:
                for op in list(session.operations.values()):
                    if op.synthetic is None:
                        await conn.call(hs2.handle_call("CancelOperation", op.ref))
                await conn.call(hs2.handle_call("CloseSession", session.ref))
                log.info("closed session of a departed client", extra={"session": session.record.session_id})
        finally:
            if conn is not main:
                conn.close()

    def drop_broken_backends(self) -> None:
        for session in [s for s in self.sessions.values() if s.backend.broken]:
            self.forget_session(session, lost=True)

    # -- operations ------------------------------------------------------------------------------

    def register_operation(
        self, session: ClientSession, name: str, reply: Reply, record: SessionRecord | None
    ) -> Operation | None:
        """Own the operation a successful reply hands out (None when it failed)."""
        ref = hs2.new_handle(name, response_of(reply))
        if ref is None:
            return None
        op = Operation(ref, session.handle.guid, record)
        session.record.add_statement_id(ref.handle.id)  # the STS's job group for its Spark jobs
        self.operations[ref.handle.guid] = session.operations[ref.handle.guid] = op
        self.ctx.metrics.operations.labels(session.record.engine).inc()
        return op

    def forget_operation(self, session: ClientSession, op: Operation) -> None:
        self.operations.pop(op.handle.guid, None)
        session.operations.pop(op.handle.guid, None)


def response_of(reply: Reply) -> Struct | None:
    """The decoded response of an engine's reply (None for an exception or an empty reply)."""
    _, body, _ = read_message(reply.message)
    return hs2.response_of(body)
