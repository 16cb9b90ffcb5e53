"""Result sets the gateway answers itself (ADHOC DESC SESSION, `[adhoc]` log lines).

Clients negotiated a protocol version at OpenSession: from V6 on, rows travel as columns
(TRowSet.columns); before it, as TRow lists. The same ResultSet renders either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from adhoc.protocol.hs2 import PROTOCOL_V6
from adhoc.protocol.thrift_binary import DOUBLE, I32, I64, LIST, STRING, STRUCT, ListValue, Struct, Value

ColumnType = Literal["string", "bigint", "double"]
# TTypeId values
_TYPE_IDS: dict[ColumnType, int] = {"string": 7, "bigint": 4, "double": 6}
# TColumn / TColumnValue union members: i64Val = 5, doubleVal = 6, stringVal = 7
_UNION_FIELD: dict[ColumnType, int] = {"string": 7, "bigint": 5, "double": 6}
_ELEMENT_TYPE: dict[ColumnType, int] = {"string": STRING, "bigint": I64, "double": DOUBLE}

Cell = str | int | float | None


@dataclass(frozen=True)
class ResultSet:
    columns: tuple[tuple[str, ColumnType], ...]
    rows: tuple[tuple[Cell, ...], ...]

    def schema(self) -> Struct:
        """TTableSchema."""
        descs: list[Value] = []
        for position, (name, ctype) in enumerate(self.columns, start=1):
            primitive = Struct().set(1, I32, _TYPE_IDS[ctype])
            type_desc = Struct().set(1, LIST, ListValue(STRUCT, [Struct().set(1, STRUCT, primitive)]))
            descs.append(Struct().set(1, STRING, name.encode()).set(2, STRUCT, type_desc).set(3, I32, position))
        return Struct().set(1, LIST, ListValue(STRUCT, descs))

    def rowset(self, protocol: int, start: int = 0, count: int | None = None) -> Struct:
        """TRowSet with rows[start:start+count], shaped for the client's protocol version."""
        rows = self.rows[start : None if count is None else start + count]
        rowset = Struct().set(1, I64, start)
        if protocol >= PROTOCOL_V6:
            rowset.set(2, LIST, ListValue(STRUCT, []))
            columns: list[Value] = [self._column(i, rows) for i in range(len(self.columns))]
            rowset.set(3, LIST, ListValue(STRUCT, columns))
        else:
            rowset.set(2, LIST, ListValue(STRUCT, [self._row(row) for row in rows]))
        return rowset

    def _column(self, index: int, rows: tuple[tuple[Cell, ...], ...]) -> Struct:
        ctype = self.columns[index][1]
        cells = [row[index] for row in rows]
        values: list[Value] = [_encode(ctype, cell) for cell in cells]
        column = Struct().set(1, LIST, ListValue(_ELEMENT_TYPE[ctype], values))
        column.set(2, STRING, null_bitmap([cell is None for cell in cells]))
        return Struct().set(_UNION_FIELD[ctype], STRUCT, column)

    def _row(self, row: tuple[Cell, ...]) -> Struct:
        values: list[Value] = []
        for (_, ctype), cell in zip(self.columns, row, strict=True):
            holder = Struct()
            if cell is not None:
                holder.set(1, _ELEMENT_TYPE[ctype], _encode(ctype, cell))
            values.append(Struct().set(_UNION_FIELD[ctype], STRUCT, holder))
        return Struct().set(1, LIST, ListValue(STRUCT, values))


def _encode(ctype: ColumnType, cell: Cell) -> Value:
    if ctype == "bigint":
        return int(cell) if cell is not None else 0
    if ctype == "double":
        return float(cell) if cell is not None else 0.0
    return str(cell).encode() if cell is not None else b""


def null_bitmap(nulls: list[bool]) -> bytes:
    """Hive's BitSet layout: bit i of the column is bit (i % 8) of byte (i // 8)."""
    out = bytearray((len(nulls) + 7) // 8)
    for i, is_null in enumerate(nulls):
        if is_null:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def log_lines(lines: list[str]) -> ResultSet:
    return ResultSet(columns=(("operation_log", "string"),), rows=tuple((line,) for line in lines))


def prepend_log_lines(rowset: Struct | None, lines: list[str], protocol: int) -> Struct:
    """Put `lines` in front of an engine's log rowset (one string column), keeping its other fields."""
    if rowset is None:
        return log_lines(lines).rowset(protocol)
    if protocol < PROTOCOL_V6:
        rows = rowset.list(2)
        ours = log_lines(lines).rowset(protocol).list(2)
        assert ours is not None
        rowset.set(2, LIST, ListValue(STRUCT, ours.items + (rows.items if rows else [])))
        return rowset
    columns = rowset.list(3)
    column = columns.items[0] if columns and columns.items else None
    strings = column.struct(7) if isinstance(column, Struct) else None
    values = strings.list(1) if strings is not None else None
    if strings is None or values is None:
        return log_lines(lines).rowset(protocol)
    old_nulls = strings.bytes(2) or b""
    old_count = len(values.items)
    nulls = [False] * len(lines) + [
        bool(old_nulls[i // 8] >> (i % 8) & 1) if i // 8 < len(old_nulls) else False for i in range(old_count)
    ]
    values.items[:0] = [line.encode() for line in lines]
    strings.set(2, STRING, null_bitmap(nulls))
    return rowset
