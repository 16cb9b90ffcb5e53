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
from adhoc.protocol.thrift_binary import BOOL, I32, I64, STRING, STRUCT, ListValue, Struct, read_message

Cell = str | None
QUERY_TIMEOUT_S = 10.0


async def query(backend: EngineConnection, session: hs2.HandleRef, sql: str) -> tuple[list[str], list[list[Cell]]]:
    """Column names and rows (cells as text) of a statement; EngineError if it fails."""
    async with asyncio.timeout(QUERY_TIMEOUT_S):
        execute = Struct().set(1, STRUCT, session.struct).set(2, STRING, sql.encode()).set(4, BOOL, False)
        resp = hs2.OperationResp(await _call(backend, hs2.call("ExecuteStatement", execute)))
        op = resp.operation_handle
        if not resp.ok or op is None:
            raise EngineError(f"{sql}: {resp.status.error_message or 'failed'}")
        try:
            meta = hs2.GetResultSetMetadataResp(await _call(backend, hs2.handle_call("GetResultSetMetadata", op)))
            fetch_req = Struct().set(1, STRUCT, op.struct).set(2, I32, 0).set(3, I64, 100)
            fetched = hs2.FetchResultsResp(await _call(backend, hs2.call("FetchResults", fetch_req)))
        finally:
            await _call(backend, hs2.handle_call("CloseOperation", op))
        if not fetched.ok:
            raise EngineError(f"{sql}: {fetched.status.error_message or 'fetch failed'}")
        return column_names(meta.schema), rows_of(fetched.results)


async def _call(backend: EngineConnection, message: bytes) -> Struct | None:
    reply = await backend.call(message)
    _, body, _ = read_message(reply.message)
    return hs2.response_of(body)


def column_names(schema: Struct | None) -> list[str]:
    """TTableSchema.columns[*].columnName."""
    columns = schema.list(1) if schema is not None else None
    return [c.text(1) or "" for c in _structs(columns)]


def rows_of(rowset: Struct | None) -> list[list[Cell]]:
    """A TRowSet as rows of text: columnar (protocol V6+) or row-wise (older)."""
    if rowset is None:
        return []
    columns = rowset.list(3)
    if columns is not None and columns.items:
        values = [_column_values(c) for c in _structs(columns)]
        return [list(row) for row in zip(*values, strict=False)]
    return [[_single_value(v) for v in _structs(row.list(1))] for row in _structs(rowset.list(2))]


def _column_values(column: Struct) -> list[Cell]:
    """One TColumn (a union: the one field set is a T<Type>Column of values + a null bitmap)."""
    for _, (_, typed) in column.fields.items():
        if isinstance(typed, Struct):
            values = typed.list(1)
            nulls = typed.bytes(2) or b""
            items = values.items if values is not None else []
            return [None if _is_null(nulls, i) else _text(v) for i, v in enumerate(items)]
    return []


def _single_value(value: Struct) -> Cell:
    """One TColumnValue (a union of T<Type>Value, each with an optional field 1)."""
    for _, (_, typed) in value.fields.items():
        if isinstance(typed, Struct):
            inner = typed.get(1)
            return None if inner is None else _text(inner)
    return None


def _is_null(bitmap: bytes, i: int) -> bool:
    return i // 8 < len(bitmap) and bool(bitmap[i // 8] & (1 << (i % 8)))


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _structs(value: ListValue | None) -> list[Struct]:
    return [v for v in value.items if isinstance(v, Struct)] if value is not None else []
