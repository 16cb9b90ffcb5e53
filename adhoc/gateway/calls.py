"""What the gateway does with each Thrift call of one client connection.

Most calls are forwarded as the client's original bytes and answered with the engine's original
reply frame. The gateway decodes a call only to check its handle belongs to this connection and,
for the few it acts on, to act:

    OpenSession        authenticate (NOSASL), check policy, route, inject engine conf, record the session
    ExecuteStatement   answer gateway statements, check policy, run sync statements async (cancellable)
    FetchResults/log   put the `[adhoc]` lines in front of an operation's first log rows
    metadata calls     check policy on the schema/table asked about
    Close*             forget the handle
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field

from adhoc.auth import Principal
from adhoc.authz import Decision, SessionState
from adhoc.errors import AdhocError, EngineError, PermissionDenied, ProtocolError, UnknownHandle, UnsupportedCall
from adhoc.gateway.backend import BackendConnection
from adhoc.gateway.commands import GatewayCommand, parse_gateway_command
from adhoc.gateway.context import GatewayContext
from adhoc.gateway.operations import Operation, SyntheticResult, answer_synthetic
from adhoc.gateway.session_conf import check_session_conf, conf_name, split_route_request
from adhoc.gateway.sessions import SessionRecord
from adhoc.gateway.sync_execute import wait_for_operation
from adhoc.protocol import hs2
from adhoc.protocol.backend_stream import Reply
from adhoc.protocol.client_stream import Request
from adhoc.protocol.rowset import prepend_log_lines
from adhoc.protocol.thrift_binary import BOOL, CALL, I32, MAP, STRING, STRUCT, Struct, encode_message, read_message
from adhoc.routing import Route

log = logging.getLogger("adhoc.gateway")

Outgoing = Reply | bytes  # an engine's reply frame, or a message the gateway wrote itself

_METADATA_TARGETS = {  # call -> (schema field, table field) pairs in its request
    "GetSchemas": ((3, None),),
    "GetTables": ((3, 4),),
    "GetColumns": ((3, 4),),
    "GetFunctions": ((3, None),),
    "GetPrimaryKeys": ((3, 4),),
    "GetCrossReference": ((3, 4), (6, 7)),
}


@dataclass
class ClientSession:
    handle: hs2.Handle
    handle_struct: Struct  # TSessionHandle as the engine sent it
    record: SessionRecord
    backend: BackendConnection
    protocol: int
    state: SessionState = field(default_factory=SessionState)
    operations: dict[bytes, Operation] = field(default_factory=dict)


class CallHandler:
    """The per-connection state (who, which sessions and operations) and the call logic."""

    def __init__(self, ctx: GatewayContext, peer: str) -> None:
        self.ctx = ctx
        self.peer = peer
        self.principal: Principal | None = None
        self.password = ""  # kept to open a side connection for teardown; never logged
        self.sessions: dict[bytes, ClientSession] = {}
        self.operations: dict[bytes, Operation] = {}
        self.backends: dict[str, BackendConnection] = {}
        self.lost: dict[bytes, str] = {}  # sessions that died with their engine connection -> engine

    # -- login -----------------------------------------------------------------------------------

    async def login(self, user: str, password: str) -> Principal:
        try:
            principal = await self.ctx.authenticator.authenticate(user, password, self.peer)
        except AdhocError as e:
            self.ctx.metrics.logins.labels("failure").inc()
            self._audit_login(user, False, e.message)
            raise
        self.ctx.metrics.logins.labels("success").inc()
        self._audit_login(principal.name, True, "")
        self.principal, self.password = principal, password
        return principal

    def _audit_login(self, user: str, allowed: bool, reason: str) -> None:
        event = {"event": "login", "time": time.time(), "user": user, "client": self.peer,
                 "decision": "allow" if allowed else "deny", "reason": reason}  # fmt: skip
        if self.ctx.audit is not None:
            self.ctx.audit(event)
        elif not allowed:
            log.info("login refused", extra={"user": user, "client": self.peer, "reason": reason})

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
            if name in hs2.SESSION_CALLS:
                return await self.session_call(request)
            if name in hs2.OPERATION_CALLS:
                return await self.operation_call(request)
            if name in hs2.REFUSED_CALLS:
                raise UnsupportedCall(f"{name} is refused by the adhoc gateway: it does not hand out tokens")
        except AdhocError as e:
            self.ctx.metrics.error(type(e).__name__)
            if isinstance(e, EngineError):
                self._drop_broken_backends()
            protocol = self._protocol_of(request)
            return hs2.error_reply(name, header.seqid, e, protocol=protocol)
        return hs2.application_exception(name, header.seqid, hs2.UNKNOWN_METHOD, f"Invalid method name: '{name}'")

    def _protocol_of(self, request: Request) -> int:
        req = hs2.request_of(request.args)
        if request.header.name == "OpenSession":
            return min(req.int(1) or hs2.PROTOCOL_V1, hs2.MAX_PROTOCOL)
        return hs2.PROTOCOL_V1

    async def forward(self, backend: BackendConnection, message: bytes) -> Reply:
        reply = await backend.call(message)
        self.ctx.metrics.relayed(len(message), len(reply.frame))
        return reply

    # -- sessions --------------------------------------------------------------------------------

    async def open_session(self, request: Request) -> Outgoing:
        req = hs2.request_of(request.args)
        conf = hs2.read_string_map(req.map(4))
        principal = self.principal or await self.login(req.text(2) or "", req.text(3) or "")
        requested, conf = split_route_request(conf)
        started = time.monotonic()
        decision = self.ctx.authorizer.check_session(principal, self.ctx.sessions.open_count(principal.name), requested)
        if not decision.allowed:
            raise PermissionDenied(decision.reason)
        check_session_conf(self.ctx.authorizer, principal, conf)
        authorizer = self.ctx.authorizer
        route = await self.ctx.router.route(
            principal.name, requested, lambda e: authorizer.allows_engine(principal, e.name, e.kind)
        )
        backend = await self._backend_for(route)
        engine = route.engine
        protocol = min(req.int(1) or hs2.PROTOCOL_V1, hs2.MAX_PROTOCOL)
        req.set(1, I32, protocol)
        req.set(2, STRING, (engine.user or principal.name).encode())
        password = engine.password if engine.user else self.password
        if password:
            req.set(3, STRING, password.encode())
        else:
            req.fields.pop(3, None)
        req.set(4, MAP, hs2.string_map(engine.session_conf(conf, principal.name if engine.user else None)))
        reply = await self.forward(backend, encode_message("OpenSession", CALL, request.header.seqid, request.args))
        resp = _successful_response(reply)
        if resp is None:
            return reply
        handle_struct = resp.struct(3)
        handle = hs2.session_handle_of(resp, 3)
        if handle is None or handle_struct is None:
            raise EngineError(f"engine {engine.name} opened a session without a handle")
        record = SessionRecord(
            session_id=handle.id, user=principal.name, route=engine.kind, engine=engine.name,
            route_reason=route.reason, app_id=engine.app_id, engine_ui_url=engine.ui_url,
            spark_ui_url=self.ctx.ui_link(handle.id), logs_url=self.ctx.logs_link(handle.id),
            queued_ms=route.queued_ms, client=self.peer, protocol_version=resp.int(2) or protocol,
        )  # fmt: skip
        if engine.ui_url and not record.app_id and engine.protocol == "sts":
            record.app_id = await self.ctx.app_ids.app_id(engine.ui_url)  # for the history server link
        # Hive JDBC names the session's database in the URL and sends it as `use:database`: names
        # in this session resolve there, so the policy must resolve them there too.
        state = SessionState(current_db=(conf.get("use:database") or "default").strip("`").lower())
        self.sessions[handle.guid] = ClientSession(
            handle, handle_struct, record, backend, record.protocol_version, state=state
        )
        self.ctx.sessions.add(record)
        self.ctx.metrics.sessions.labels(engine.name).inc()
        self.ctx.metrics.sessions_open.inc()
        self.ctx.metrics.open_session_seconds.observe(time.monotonic() - started)
        log.info("session opened", extra={"session": record.session_id, "user": record.user, "engine": engine.name})
        return reply

    async def _backend_for(self, route: Route) -> BackendConnection:
        engine = route.engine
        backend = self.backends.get(engine.name)
        if backend is None or backend.broken:
            assert self.principal is not None
            user = engine.user or self.principal.name
            password = engine.password if engine.user else self.password
            timeout = self.ctx.config.server.backend_connect_timeout_s
            backend = await BackendConnection.connect(engine, user, password, timeout)
            self.backends[engine.name] = backend
        return backend

    def _session(self, req: Struct) -> ClientSession:
        handle = hs2.session_handle_of(req)
        session = self.sessions.get(handle.guid) if handle else None
        if session is not None and session.backend.broken:
            self.forget_session(session, lost=True)
            session = None
        if session is None:
            if handle is not None and handle.guid in self.lost:
                raise EngineError(f"session {handle.id} ended: the connection to engine "
                                  f"{self.lost[handle.guid]} was lost; open a new session")  # fmt: skip
            shown = handle.id if handle else "(none)"
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

    def _drop_broken_backends(self) -> None:
        for session in [s for s in self.sessions.values() if s.backend.broken]:
            self.forget_session(session, lost=True)

    async def session_call(self, request: Request) -> Outgoing:
        name = request.header.name
        req = hs2.request_of(request.args)
        session = self._session(req)
        if name == "ExecuteStatement":
            return await self.execute_statement(request, req, session)
        for schema_fid, table_fid in _METADATA_TARGETS.get(name, ()):
            schema = req.text(schema_fid)
            table = req.text(table_fid) if table_fid else None
            self._enforce(self.ctx.authorizer.check_metadata(self._principal(), name, schema, table), name, session)
        reply = await self.forward(session.backend, request.raw)
        if name in hs2.CREATES_OPERATION:
            self._register_operation(session, reply, record=None)
        elif name == "CloseSession":
            self.forget_session(session)
        return reply

    def _principal(self) -> Principal:
        assert self.principal is not None  # a session exists only after login
        return self.principal

    def _enforce(self, decision: Decision, what: str, session: ClientSession) -> None:
        self.ctx.metrics.decision(decision.allowed)
        if not decision.allowed:
            raise PermissionDenied(decision.reason or f"{what} is not allowed")

    # -- statements ------------------------------------------------------------------------------

    async def execute_statement(self, request: Request, req: Struct, session: ClientSession) -> Outgoing:
        statement = req.text(2) or ""
        session.record.statements += 1
        command = parse_gateway_command(statement)
        if command is not None:
            return self._answer_command(request, session, command)
        principal = self._principal()
        authorizer, state = self.ctx.authorizer, session.state
        analysed = None
        if authorizer.slow_to_analyse(statement):  # ~2 ms of CPU per KB: not on the loop everyone shares
            analysed = await self.ctx.analysis_pool.analyze(statement, state.current_db, frozenset(state.temp_views))
        decision = authorizer.check_statement(principal, statement, state, analysed)
        for key, value in hs2.read_string_map(req.map(3)).items():
            if decision.allowed:  # a per-statement conf overlay is a SET in disguise
                decision = authorizer.check_statement(principal, f"SET {conf_name(key)}={value}", state)
        self._audit_statement(session, statement, decision)
        self._enforce(decision, "statement", session)
        # A statement that moves name resolution (USE, temporary views) is waited for here even when
        # the client asked for async: the session follows it only once the engine has run it.
        if req.bool(4) and decision.change is None:
            reply = await self.forward(session.backend, request.raw)
            if op := self._register_operation(session, reply, record=session.record):
                op.running = True
            return reply
        # A synchronous statement runs async on the engine so it has a handle from the start:
        # if the client vanishes mid-query the gateway can cancel it (Hive registers a sync
        # operation with its session only after it finishes, so CloseSession would not stop it).
        req.set(4, BOOL, True)
        message = encode_message("ExecuteStatement", CALL, request.header.seqid, request.args)
        reply = await self.forward(session.backend, message)
        op = self._register_operation(session, reply, record=session.record)
        if op is None:
            return reply
        failure = await wait_for_operation(session.backend, op, self.ctx.metrics)
        op.running = False
        if failure is None:
            if decision.change is not None:
                decision.change.apply(session.state)
            return reply
        self.operations.pop(op.handle.guid, None)
        session.operations.pop(op.handle.guid, None)
        return hs2.reply("ExecuteStatement", request.header.seqid, Struct().set(1, STRUCT, failure))

    def _audit_statement(self, session: ClientSession, statement: str, decision: Decision) -> None:
        if self.ctx.audit is None:
            if not decision.allowed:  # without an audit file, refusals still reach the log
                log.info("statement refused", extra={"user": session.record.user, "session": session.record.session_id,
                                                     "reason": decision.reason})  # fmt: skip
            return
        self.ctx.audit({
            "event": "statement", "time": time.time(), "user": session.record.user, "client": self.peer,
            "session": session.record.session_id, "route": session.record.route, "engine": session.record.engine,
            "decision": "allow" if decision.allowed else "deny", "reason": decision.reason,
            "class": decision.statement_class, "tables_read": list(decision.tables_read),
            "tables_written": list(decision.tables_written),
            "digest": hashlib.sha256(statement.encode()).hexdigest()[:16],
        })  # fmt: skip

    def _answer_command(self, request: Request, session: ClientSession, command: GatewayCommand) -> bytes:
        result = command.run(session.record)
        handle = hs2.Handle.new()
        op_struct = hs2.operation_handle_struct(handle, has_result_set=True)
        op = Operation(handle, op_struct, session.handle.guid, session.record, SyntheticResult(result))
        self.operations[handle.guid] = session.operations[handle.guid] = op
        resp = Struct().set(1, STRUCT, hs2.success_status()).set(2, STRUCT, op_struct)
        return hs2.reply("ExecuteStatement", request.header.seqid, resp)

    def _register_operation(
        self, session: ClientSession, reply: Reply, record: SessionRecord | None
    ) -> Operation | None:
        resp = _successful_response(reply)
        if resp is None:
            return None
        op_struct = resp.struct(2)
        handle = hs2.operation_handle_of(resp, 2)
        if handle is None or op_struct is None:
            return None
        op = Operation(handle, op_struct, session.handle.guid, record)
        self.operations[handle.guid] = session.operations[handle.guid] = op
        self.ctx.metrics.operations.labels(session.record.engine).inc()
        return op

    # -- operations ------------------------------------------------------------------------------

    async def operation_call(self, request: Request) -> Outgoing:
        name = request.header.name
        req = hs2.request_of(request.args)
        handle = hs2.operation_handle_of(req)
        op = self.operations.get(handle.guid) if handle else None
        if op is None:
            shown = handle.id if handle else "(none)"
            raise UnknownHandle(f"Invalid OperationHandle: operation {shown} is not known on this connection")
        session = self.sessions.get(op.session_guid)
        if session is None:
            self.operations.pop(op.handle.guid, None)
            raise UnknownHandle(f"Invalid OperationHandle: the session of operation {op.handle.id} is closed")
        if op.synthetic is not None:
            if name == "CloseOperation":
                self._forget_operation(session, op)
            return answer_synthetic(request, req, op, session.protocol)
        if session.backend.broken:
            self.forget_session(session, lost=True)
            raise EngineError(f"the connection to engine {session.record.engine} was lost; open a new session")
        is_log_fetch = name == "FetchResults" and req.int(4) == hs2.FETCH_TYPE_LOG
        reply = await self.forward(session.backend, request.raw)
        lines = op.log_lines_due(req.int(2)) if is_log_fetch else []
        if lines:
            return _with_log_lines(reply, lines, session.protocol)
        if name == "CloseOperation":
            self._forget_operation(session, op)
        elif op.running and name in ("GetOperationStatus", "CancelOperation"):
            op.running = name == "GetOperationStatus" and _still_running(reply)
        return reply

    def _forget_operation(self, session: ClientSession, op: Operation) -> None:
        self.operations.pop(op.handle.guid, None)
        session.operations.pop(op.handle.guid, None)


def _successful_response(reply: Reply) -> Struct | None:
    """The decoded response of an engine's reply, if its status says success."""
    _, body, _ = read_message(reply.message)
    resp = hs2.response_of(body)
    return resp if resp is not None and hs2.status_code_of(resp) in (0, 1) else None


def _still_running(reply: Reply) -> bool:
    """Whether a GetOperationStatus reply says the operation has not ended (decoded only while
    the gateway believes it runs: a small reply, once per poll)."""
    resp = _successful_response(reply)  # an error: the engine does not know the operation (any more)
    return resp is not None and resp.int(2) in hs2.RUNNING_STATES


def _with_log_lines(reply: Reply, lines: list[str], protocol: int) -> bytes:
    """The engine's log rows with the `[adhoc]` lines in front, in a reply re-encoded from its tree."""
    header, body, _ = read_message(reply.message)
    resp = hs2.response_of(body)
    if resp is None:
        return bytes(reply.message)
    if hs2.status_code_of(resp) not in (0, 1):
        # The engine keeps no log for this operation (logging off): the gateway's lines still show.
        resp = Struct().set(1, STRUCT, hs2.success_status()).set(2, BOOL, False)
        resp.set(3, STRUCT, prepend_log_lines(None, lines, protocol))
        return hs2.reply(header.name, header.seqid, resp)
    resp.set(3, STRUCT, prepend_log_lines(resp.struct(3), lines, protocol))
    return encode_message(header.name, header.type, header.seqid, body)
