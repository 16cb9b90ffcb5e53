"""ExecuteStatement: gateway statements answered here, policy, and sync statements run async.

A synchronous statement runs async on the engine so it has a handle from the start: if the
client vanishes mid-query the gateway can cancel it (Hive registers a sync operation with its
session only after it finishes, so CloseSession would not stop it).
"""

from __future__ import annotations

import hashlib
import logging
import time

from adhoc.authz import Decision
from adhoc.gateway.call_base import CallBase, ClientSession, Outgoing
from adhoc.gateway.commands import GatewayCommand, parse_gateway_command
from adhoc.gateway.engine_details import learn_engine_once
from adhoc.gateway.in_flight import check_in_flight, track
from adhoc.gateway.operations import Operation, SyntheticResult
from adhoc.gateway.sync_execute import wait_for_operation
from adhoc.protocol import hs2
from adhoc.protocol.client_stream import Request

log = logging.getLogger("adhoc.gateway")


class StatementCalls(CallBase):
    async def execute_statement(self, request: Request) -> Outgoing:
        req = hs2.ExecuteStatementReq(hs2.request_of(request.args))
        session = self.session_of(req.struct)
        statement = req.statement or ""
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
        if decision.allowed:  # a per-statement conf overlay is a SET in disguise
            decision = authorizer.check_conf(principal, req.conf_overlay, "confOverlay") or decision
        if decision.allowed:  # a statement still in flight may be resolved after this one
            decision = await check_in_flight(authorizer, self.ctx.analysis_pool, principal, session, decision)
        self._audit_statement(session, statement, decision)
        self._enforce(decision, "statement")
        # A statement that moves name resolution (USE, temporary views) is waited for here even when
        # the client asked for async: the session follows it only once the engine has run it.
        if req.run_async and decision.change is None:
            reply = await self.forward(session.backend, request.raw)
            if op := self.register_operation(session, "ExecuteStatement", reply, record=session.record):
                op.running = True
                track(session, op, statement)
            return reply
        if decision.change is not None:
            decision.change.forget(session.state)  # whatever the engine's outcome: see StateChange
        req.run_async = True
        reply = await self.forward(session.backend, hs2.call("ExecuteStatement", req.struct, request.header.seqid))
        op = self.register_operation(session, "ExecuteStatement", reply, record=session.record)
        if op is None:
            return reply
        failure = await wait_for_operation(session.backend, op, self.ctx.metrics)
        op.running = False
        if failure is None:
            if decision.change is not None:
                decision.change.apply(session.state)
            await learn_engine_once(self.ctx, session)
            return reply
        self.forget_operation(session, op)
        resp = hs2.OperationResp()
        resp.status_struct = failure
        return hs2.reply("ExecuteStatement", request.header.seqid, resp.struct)

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
        ref = hs2.HandleRef.of(hs2.operation_handle_struct(hs2.Handle.new(), has_result_set=True))
        assert ref is not None
        op = Operation(ref, session.handle.guid, session.record, SyntheticResult(result))
        self.operations[ref.handle.guid] = session.operations[ref.handle.guid] = op
        resp = hs2.OperationResp()
        resp.status_struct, resp.operation_handle_struct = hs2.success_status(), ref.struct
        return hs2.reply("ExecuteStatement", request.header.seqid, resp.struct)
