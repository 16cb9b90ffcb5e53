"""What the gateway does with each Thrift call of one client connection.

Most calls are forwarded as the client's original bytes and answered with the engine's original
reply frame. The gateway decodes a call only to check its handle belongs to this connection and,
for the few it acts on, to act. By concern:

    session_calls      OpenSession (login, policy, route, engine conf, record), metadata, CloseSession
    statement_calls    ExecuteStatement: gateway statements, policy, sync statements run async
    operation_calls    status (ended operations answered here), `[adhoc]` log lines, close
    call_base          the connection's sessions, operations and engine connections
"""

from __future__ import annotations

import logging

from adhoc.auth import Principal
from adhoc.errors import AdhocError, EngineError, ProtocolError, UnsupportedCall
from adhoc.gateway.call_base import ClientSession, Outgoing
from adhoc.gateway.login import login
from adhoc.gateway.operation_calls import OperationCalls
from adhoc.gateway.session_calls import SessionCalls
from adhoc.gateway.statement_calls import StatementCalls
from adhoc.protocol import hs2
from adhoc.protocol.client_stream import Request
from adhoc.protocol.thrift_binary import CALL

log = logging.getLogger("adhoc.gateway")

__all__ = ["CallHandler", "ClientSession", "Outgoing"]


class CallHandler(SessionCalls, StatementCalls, OperationCalls):
    """The per-connection state (who, which sessions and operations) and the call logic."""

    # -- login -----------------------------------------------------------------------------------

    async def login(self, user: str, password: str) -> Principal:
        principal = await login(self.ctx, user, password, self.peer, via=self.via)
        self.principal, self.password = principal, password
        return principal

    # -- dispatch --------------------------------------------------------------------------------

    async def handle(self, request: Request) -> Outgoing:
        header = request.header
        name = header.name
        self.ctx.metrics.call(name if name in hs2.KNOWN_CALLS else "unknown")
        if header.type != CALL:
            raise ProtocolError(f"expected a Thrift call, got message type {header.type}")
        try:
            if name == "OpenSession":
                return await self.open_session(request)
            if name == "ExecuteStatement":
                return await self.execute_statement(request)
            if name in hs2.SESSION_CALLS:
                return await self.session_call(request)
            if name in hs2.OPERATION_CALLS:
                return await self.operation_call(request)
            if name in hs2.REFUSED_CALLS:
                raise UnsupportedCall(f"{name} is refused by the adhoc gateway: it does not hand out tokens")
        except AdhocError as e:
            self.ctx.metrics.error(type(e).__name__)
            if isinstance(e, EngineError):
                self.drop_broken_backends()
            return hs2.error_reply(name, header.seqid, e, protocol=self._protocol_of(request))
        return hs2.application_exception(name, header.seqid, hs2.UNKNOWN_METHOD, f"Invalid method name: '{name}'")

    def _protocol_of(self, request: Request) -> int:
        if request.header.name == "OpenSession":
            asked = hs2.OpenSessionReq(hs2.request_of(request.args)).client_protocol
            return min(asked or hs2.PROTOCOL_V1, hs2.MAX_PROTOCOL)
        return hs2.PROTOCOL_V1
