"""Operations a connection knows, and the answers for the ones the gateway made up itself."""

from __future__ import annotations

from dataclasses import dataclass

from adhoc.gateway.sessions import SessionRecord
from adhoc.protocol import hs2
from adhoc.protocol.client_stream import Request
from adhoc.protocol.rowset import ResultSet, log_lines
from adhoc.protocol.thrift_binary import StoredReply, Struct
from adhoc.protocol.thrift_views import View

FETCH_FIRST = 4


@dataclass
class SyntheticResult:
    result: ResultSet
    cursor: int = 0


@dataclass
class Operation:
    ref: hs2.HandleRef  # the TOperationHandle as issued, to send back for cancel/close
    session_guid: bytes
    record: SessionRecord | None  # whose `[adhoc]` lines open this operation's log (None: metadata calls)
    synthetic: SyntheticResult | None = None
    log_shown: bool = False
    # A statement may still be running on the engine until a status reply says it ended; a
    # draining gateway waits for such operations, and closes connections that have none.
    running: bool = False
    # The engine's GetOperationStatus reply once it said the operation ended: a terminal state
    # never changes, so later status calls are answered from these bytes (client's seqid patched).
    final_status: StoredReply | None = None
    # An async statement's text, kept until the engine says it finished or failed: till then Spark
    # may still resolve its names, in whatever state later statements leave the session.
    statement: str = ""
    settled: bool = False  # the engine said it finished or failed: it has resolved its names
    started_at: float | None = None  # when it was first seen running (or cancelled, or closed)

    @property
    def handle(self) -> hs2.Handle:
        return self.ref.handle

    def log_lines_due(self, orientation: int | None) -> list[str]:
        """The `[adhoc]` lines for this log fetch: on the first one, and again when a client
        rewinds the log with FETCH_FIRST. Built only when a client asks for the log."""
        if self.record is None or (self.log_shown and orientation != FETCH_FIRST):
            return []
        self.log_shown = True
        return self.record.log_lines()


def answer_synthetic(request: Request, req: Struct, op: Operation, protocol: int) -> bytes:
    """Reply to a call on an operation the gateway answered itself (e.g. ADHOC DESC SESSION)."""
    assert op.synthetic is not None
    name, seqid = request.header.name, request.header.seqid
    resp: View
    if name == "GetOperationStatus":
        status = hs2.GetOperationStatusResp()
        status.status_struct = hs2.success_status()
        status.operation_state, status.has_result_set = hs2.FINISHED_STATE, True
        resp = status
    elif name == "GetResultSetMetadata":
        metadata = hs2.GetResultSetMetadataResp()
        metadata.status_struct, metadata.schema = hs2.success_status(), op.synthetic.result.schema()
        resp = metadata
    elif name == "FetchResults":
        fetch, rows = hs2.FetchResultsReq(req), hs2.FetchResultsResp()
        rows.status_struct = hs2.success_status()
        if fetch.fetch_type == hs2.FETCH_TYPE_LOG:
            lines = op.log_lines_due(fetch.orientation)
            rows.has_more_rows, rows.results = False, log_lines(lines).rowset(protocol)
        else:
            synthetic = op.synthetic
            if fetch.orientation == FETCH_FIRST:
                synthetic.cursor = 0
            max_rows = max(fetch.max_rows or 0, 0) or len(synthetic.result.rows)
            rows.results = synthetic.result.rowset(protocol, synthetic.cursor, max_rows)
            synthetic.cursor = min(synthetic.cursor + max_rows, len(synthetic.result.rows))
            rows.has_more_rows = synthetic.cursor < len(synthetic.result.rows)
        resp = rows
    elif name == "GetQueryId":
        query_id = hs2.GetQueryIdResp()
        query_id.query_id = op.handle.id
        resp = query_id
    else:  # CancelOperation, CloseOperation: nothing runs
        done = hs2.Response()
        done.status_struct = hs2.success_status()
        resp = done
    return hs2.reply(name, seqid, resp.struct)
