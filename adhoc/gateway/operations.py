"""Operations a connection knows, and the answers for the ones the gateway made up itself."""

from __future__ import annotations

from dataclasses import dataclass

from adhoc.gateway.sessions import SessionRecord
from adhoc.protocol import hs2
from adhoc.protocol.client_stream import Request
from adhoc.protocol.rowset import ResultSet, log_lines
from adhoc.protocol.thrift_binary import BOOL, I32, STRING, STRUCT, Struct

FETCH_FIRST = 4


@dataclass
class SyntheticResult:
    result: ResultSet
    cursor: int = 0


@dataclass
class Operation:
    handle: hs2.Handle
    handle_struct: Struct  # TOperationHandle as issued, to send back for cancel/close
    session_guid: bytes
    record: SessionRecord | None  # whose `[adhoc]` lines open this operation's log (None: metadata calls)
    synthetic: SyntheticResult | None = None
    log_shown: bool = False
    # A statement may still be running on the engine until a status reply says it ended; a
    # draining gateway waits for such operations, and closes connections that have none.
    running: bool = False

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
    ok = hs2.success_status()
    resp = Struct().set(1, STRUCT, ok)
    if name == "GetOperationStatus":
        resp.set(2, I32, hs2.FINISHED_STATE).set(9, BOOL, True)
    elif name == "GetResultSetMetadata":
        resp.set(2, STRUCT, op.synthetic.result.schema())
    elif name == "FetchResults":
        if req.int(4) == hs2.FETCH_TYPE_LOG:
            lines = op.log_lines_due(req.int(2))
            resp.set(2, BOOL, False).set(3, STRUCT, log_lines(lines).rowset(protocol))
        else:
            synthetic = op.synthetic
            if req.int(2) == FETCH_FIRST:
                synthetic.cursor = 0
            max_rows = max(req.int(3) or 0, 0) or len(synthetic.result.rows)
            rowset = synthetic.result.rowset(protocol, synthetic.cursor, max_rows)
            synthetic.cursor = min(synthetic.cursor + max_rows, len(synthetic.result.rows))
            resp.set(2, BOOL, synthetic.cursor < len(synthetic.result.rows)).set(3, STRUCT, rowset)
    elif name == "GetQueryId":  # TGetQueryIdResp has no status: its only field is the id
        resp = Struct().set(1, STRING, op.handle.id.encode())
    return hs2.reply(name, seqid, resp)
