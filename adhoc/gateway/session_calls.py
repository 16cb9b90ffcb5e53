"""OpenSession and the calls made on a session (metadata, GetInfo, CloseSession).

OpenSession     authenticate (NOSASL), check policy, route, inject engine conf, record the session
metadata calls  check policy on the schema/table asked about, own the operation they create
CloseSession    forget the session
"""

from __future__ import annotations

import logging
import time

from adhoc.auth import Principal
from adhoc.authz import SessionState
from adhoc.authz.conf_keys import database_of
from adhoc.errors import EngineError, PermissionDenied
from adhoc.gateway.call_base import CallBase, ClientSession, Outgoing
from adhoc.gateway.engine_details import learn_sts_app_id, wants_sts_app_id
from adhoc.gateway.engine_link import EngineConnection
from adhoc.gateway.session_conf import check_session_conf, split_route_request
from adhoc.gateway.sessions import SessionRecord, new_session_id
from adhoc.protocol import hs2
from adhoc.protocol.client_stream import Request
from adhoc.protocol.thrift_binary import read_message
from adhoc.routing import Route

log = logging.getLogger("adhoc.gateway")


class SessionCalls(CallBase):
    async def open_session(self, request: Request) -> Outgoing:
        req = hs2.OpenSessionReq(hs2.request_of(request.args))
        conf = req.configuration
        principal = self.principal or await self.login(req.username or "", req.password or "")
        requested, conf = split_route_request(conf)
        started = time.monotonic()
        authorizer = self.ctx.authorizer
        refusals: list[str] = []

        def within_limits(open_sessions: int) -> bool:  # the user's open sessions, fleet-wide
            decision = authorizer.check_session(principal, open_sessions, requested)
            refusals.extend([] if decision.allowed else [decision.reason])
            return decision.allowed

        admission = await self.ctx.fleet.admit(principal.name, within_limits)
        if not admission.allowed:
            raise PermissionDenied(refusals[0])
        try:  # the admission holds a place in the user's count until the session ends
            check_session_conf(authorizer, principal, conf)
            route = await self.ctx.router.route(
                principal, requested, lambda e: authorizer.allows_engine(principal, e.name, e.kind)
            )
        except BaseException:
            self.ctx.fleet.abandon(admission)
            raise
        try:  # the route holds a place (group caps) until its session ends, or now if it never opens
            reply, session_id = await self._open_routed(request, req, principal, conf, route, started)
        except BaseException:
            route.release()
            self.ctx.fleet.abandon(admission)
            raise
        record = self.ctx.sessions.get(session_id) if session_id else None
        if record is not None:  # what any replica answers for this session's links and API
            facts = {**record.to_json(), "replica": self.ctx.replica_url}
            self.ctx.fleet.attach(admission, session_id, facts)
        else:
            self.ctx.fleet.abandon(admission)
        return reply

    async def _open_routed(self, request: Request, req: hs2.OpenSessionReq, principal: Principal,
                           conf: dict[str, str], route: Route, started: float) -> tuple[Outgoing, str]:  # fmt: skip
        """The engine's reply, and the new session's id ("" when the engine refused it)."""
        routed_at = time.time()  # when the router let this session go (queued ones: in FIFO order)
        backend, route = await self._backend_for(route)
        engine = route.engine
        protocol = min(req.client_protocol or hs2.PROTOCOL_V1, hs2.MAX_PROTOCOL)
        session_id = new_session_id()  # before the engine hears of it: its conf may carry the id
        user, password = engine.login_for(principal.name, self.password)
        req.client_protocol, req.username, req.password = protocol, user, password or None
        req.configuration = engine.session_conf(
            conf, engine.proxy_user_for(principal.name), session_id=session_id, user=principal.name
        )
        reply = await self.forward(backend, hs2.call("OpenSession", req.struct, request.header.seqid))
        _, body, _ = read_message(reply.message)
        resp = hs2.OpenSessionResp(hs2.response_of(body))
        if not resp.ok:
            route.release()
            return reply, ""
        ref = resp.session_handle
        if ref is None:
            raise EngineError(f"engine {engine.name} opened a session without a handle")
        record = SessionRecord(
            session_id=session_id, engine_session_id=ref.handle.id, user=principal.name, route=engine.kind,
            engine=engine.name, route_reason=route.reason, app_id=engine.app_id, engine_ui_url=engine.ui_url,
            spark_ui_url=self.ctx.ui_link(session_id), logs_url=self.ctx.logs_link(session_id),
            queued_ms=route.queued_ms, routed_at=routed_at, client=self.peer,
            protocol_version=resp.server_protocol_version or protocol,
        )  # fmt: skip
        if not record.app_id and wants_sts_app_id(engine.kind, engine.protocol, engine.ui_url, engine.history_url):
            # for the history server link; on YARN the UI link is the RM's proxy of the app
            await learn_sts_app_id(self.ctx, backend, ref, record)
        # Hive JDBC names the session's database in the URL and sends it as `use:database`: names
        # in this session resolve there, so the policy must resolve them there too.
        state = SessionState(current_db=database_of(conf))
        self.sessions[ref.handle.guid] = ClientSession(
            ref, record, backend, record.protocol_version, state=state, release=route.release
        )
        self.ctx.sessions.add(record)
        self.ctx.metrics.sessions.labels(engine.name).inc()
        self.ctx.metrics.sessions_open.inc()
        self.ctx.metrics.open_session_seconds.observe(time.monotonic() - started)
        log.info("session opened", extra={"session": record.session_id, "user": record.user, "engine": engine.name})
        return reply, session_id

    async def _backend_for(self, route: Route) -> tuple[EngineConnection, Route]:
        """A connection to the routed engine; one that refuses us sends the session to the next."""
        while True:
            engine = route.engine
            backend = self.backends.get(engine.name)
            if backend is not None and not backend.broken:
                return backend, route
            try:
                backend = await self.connect(engine, self.ctx.config.server.backend_connect_timeout_s)
            except EngineError as e:
                route = await self.ctx.router.reroute(route, e.message)
                continue
            self.backends[engine.name] = backend
            return backend, route

    async def session_call(self, request: Request) -> Outgoing:
        """A call on a session other than ExecuteStatement."""
        name = request.header.name
        req = hs2.request_of(request.args)
        session = self.session_of(req)
        for schema, table in hs2.metadata_targets(name, req):
            self._enforce(self.ctx.authorizer.check_metadata(self._principal(), name, schema, table), name)
        reply = await self.forward(session.backend, request.raw)
        if name in hs2.CREATES_OPERATION:
            self.register_operation(session, name, reply, record=None)
        elif name == "CloseSession":
            self.forget_session(session)
        return reply
