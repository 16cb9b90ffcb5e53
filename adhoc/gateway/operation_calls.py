"""Calls on an operation: status, results, logs, cancel, close.

Most are forwarded as the client's bytes and answered with the engine's reply frame. The gateway
acts on three: a log fetch gets the `[adhoc]` lines in front of its first rows; a status call on
an operation the engine already said has ended is answered from that reply (Hive JDBC asks for
the status around every row it reads: this saves a round trip per row); Close forgets the handle.
"""

from __future__ import annotations

from adhoc.errors import EngineError, UnknownHandle
from adhoc.gateway.call_base import CallBase, Outgoing, response_of
from adhoc.gateway.engine_details import learn_engine_once
from adhoc.gateway.in_flight import note_state
from adhoc.gateway.operations import Operation, answer_synthetic
from adhoc.protocol import hs2
from adhoc.protocol.backend_stream import Reply
from adhoc.protocol.client_stream import Request
from adhoc.protocol.rowset import prepend_log_lines
from adhoc.protocol.thrift_binary import StoredReply, encode_message, read_message


class OperationCalls(CallBase):
    async def operation_call(self, request: Request) -> Outgoing:
        name = request.header.name
        req = hs2.request_of(request.args)
        ref = hs2.operation_handle_in(req)
        op = self.operations.get(ref.handle.guid) if ref else None
        if op is None:
            shown = ref.handle.id if ref else "(none)"
            raise UnknownHandle(f"Invalid OperationHandle: operation {shown} is not known on this connection")
        session = self.sessions.get(op.session_guid)
        if session is None:
            self.operations.pop(op.handle.guid, None)
            raise UnknownHandle(f"Invalid OperationHandle: the session of operation {op.handle.id} is closed")
        if op.synthetic is not None:
            if name == "CloseOperation":
                self.forget_operation(session, op)
            return answer_synthetic(request, req, op, session.protocol)
        if session.backend.broken:
            self.forget_session(session, lost=True)
            raise EngineError(f"the connection to engine {session.record.engine} was lost; open a new session")
        if name == "GetOperationStatus" and op.final_status is not None:
            self.ctx.metrics.status_answered_here()
            return op.final_status.answer(request.header.seqid)
        reply = await self.forward(session.backend, request.raw)
        if name == "GetOperationStatus":
            self._note_status(op, reply)
            if op.final_status is not None:
                await learn_engine_once(self.ctx, session)
        elif name == "FetchResults":
            fetch = hs2.FetchResultsReq(req)
            if fetch.fetch_type == hs2.FETCH_TYPE_LOG and (lines := op.log_lines_due(fetch.orientation)):
                return _with_log_lines(reply, lines, session.protocol)
        elif name == "CloseOperation":
            self.forget_operation(session, op)
            note_state(op, hs2.CLOSED_STATE)
        elif name == "CancelOperation":
            op.running = False
            note_state(op, hs2.CANCELED_STATE)
        return reply

    def answer_ended_status(self, seqid: int, guid: bytes, framed: bool) -> bytes | None:
        """The answer to a GetOperationStatus call on this connection's operation `guid` when it is
        the stored reply of an ended operation (what `operation_call` would answer), else None.
        For the connection's fast path: no decoding, no task switch, the same bytes and metrics."""
        op = self.operations.get(guid)
        if op is None or op.final_status is None or op.synthetic is not None:
            return None
        session = self.sessions.get(op.session_guid)
        if session is None or session.backend.broken:
            return None  # the general path says why, in the error the client should see
        metrics = self.ctx.metrics
        metrics.call("GetOperationStatus")
        metrics.status_answered_here()
        return op.final_status.answer_framed(seqid) if framed else op.final_status.answer(seqid)

    def _note_status(self, op: Operation, reply: Reply) -> None:
        """Keep a status reply that says the operation ended: it is the answer from now on."""
        status = hs2.GetOperationStatusResp(response_of(reply))
        if not status.ok:  # the engine does not know the operation (any more): let the client hear that each time
            op.running = False
            return
        state = status.operation_state
        op.running = state in hs2.RUNNING_STATES
        note_state(op, state)
        if state in hs2.TERMINAL_STATES:
            op.final_status = StoredReply(bytes(reply.message))


def _with_log_lines(reply: Reply, lines: list[str], protocol: int) -> bytes:
    """The engine's log rows with the `[adhoc]` lines in front, in a reply re-encoded from its tree."""
    header, body, _ = read_message(reply.message)
    resp = hs2.response_of(body)
    if resp is None:
        return bytes(reply.message)
    fetch = hs2.FetchResultsResp(resp)
    if not fetch.ok:
        # The engine keeps no log for this operation (logging off): the gateway's lines still show.
        fetch = hs2.FetchResultsResp()
        fetch.status_struct, fetch.has_more_rows = hs2.success_status(), False
        fetch.results = prepend_log_lines(None, lines, protocol)
        return hs2.reply(header.name, header.seqid, fetch.struct)
    fetch.results = prepend_log_lines(fetch.results, lines, protocol)
    return encode_message(header.name, header.type, header.seqid, body)
