"""Ask an engine a small question on a client's session: `SET spark.app.id` (STS), `KYUUBI DESC
ENGINE` (Kyuubi). Runs on the session's own engine connection between two of the client's calls
(calls on a connection are one at a time), so it must be short: a result of a few string cells.

    columns, rows = await query(backend, session_ref, "SET spark.app.id")
"""

from __future__ import annotations

import asyncio

from adhoc.errors import EngineError
from adhoc.gateway.engine_link import EngineConnection
from adhoc.protocol import hs2
from adhoc.protocol.rowset_reader import Cell, column_names, rows_of
from adhoc.protocol.thrift_binary import Struct, read_message

__all__ = ["Cell", "column_names", "query", "rows_of"]

QUERY_TIMEOUT_S = 10.0


async def query(backend: EngineConnection, session: hs2.HandleRef, sql: str) -> tuple[list[str], list[list[Cell]]]:
    """Column names and rows (cells as text) of a statement; EngineError if it fails."""
    async with asyncio.timeout(QUERY_TIMEOUT_S):
        execute = hs2.ExecuteStatementReq()
        execute.session_handle_struct, execute.statement, execute.run_async = session.struct, sql, False
        resp = hs2.OperationResp(await _call(backend, hs2.call("ExecuteStatement", execute.struct)))
        op = resp.operation_handle
        if not resp.ok or op is None:
            raise EngineError(f"{sql}: {resp.status.error_message or 'failed'}")
        try:
            meta = hs2.GetResultSetMetadataResp(await _call(backend, hs2.handle_call("GetResultSetMetadata", op)))
            fetch = hs2.FetchResultsReq()
            fetch.operation_handle_struct, fetch.orientation, fetch.max_rows = op.struct, 0, 100
            fetched = hs2.FetchResultsResp(await _call(backend, hs2.call("FetchResults", fetch.struct)))
        finally:
            await _call(backend, hs2.handle_call("CloseOperation", op))
        if not fetched.ok:
            raise EngineError(f"{sql}: {fetched.status.error_message or 'fetch failed'}")
        return column_names(meta.schema), rows_of(fetched.results)


async def _call(backend: EngineConnection, message: bytes) -> Struct | None:
    reply = await backend.call(message)
    _, body, _ = read_message(reply.message)
    return hs2.response_of(body)
