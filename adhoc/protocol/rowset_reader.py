"""Reading an engine's small result as text: TTableSchema column names and TRowSet rows.

For the few answers the gateway reads itself (`SET spark.app.id`, `KYUUBI DESC ENGINE`); results
for clients are relayed, never read. Columnar (protocol V6+) and row-wise rowsets alike.
"""

from __future__ import annotations

from adhoc.protocol.thrift_binary import ListValue, Struct

Cell = str | None

# TTableSchema.columns, TColumnDesc.columnName; TRowSet.rows / .columns, TRow.colVals;
# T<Type>Column.values / .nulls; T<Type>Value.value
_SCHEMA_COLUMNS, _COLUMN_NAME = 1, 1
_ROWSET_ROWS, _ROWSET_COLUMNS, _ROW_VALUES = 2, 3, 1
_COLUMN_VALUES, _COLUMN_NULLS, _VALUE = 1, 2, 1


def column_names(schema: Struct | None) -> list[str]:
    columns = schema.list(_SCHEMA_COLUMNS) if schema is not None else None
    return [c.text(_COLUMN_NAME) or "" for c in _structs(columns)]


def rows_of(rowset: Struct | None) -> list[list[Cell]]:
    """A TRowSet as rows of text cells (None for NULL)."""
    if rowset is None:
        return []
    columns = rowset.list(_ROWSET_COLUMNS)
    if columns is not None and columns.items:
        values = [_column_values(c) for c in _structs(columns)]
        return [list(row) for row in zip(*values, strict=False)]
    rows = _structs(rowset.list(_ROWSET_ROWS))
    return [[_single_value(v) for v in _structs(row.list(_ROW_VALUES))] for row in rows]


def _column_values(column: Struct) -> list[Cell]:
    """One TColumn (a union: the one field set is a T<Type>Column of values + a null bitmap)."""
    for _, (_, typed) in column.fields.items():
        if isinstance(typed, Struct):
            values = typed.list(_COLUMN_VALUES)
            nulls = typed.bytes(_COLUMN_NULLS) or b""
            items = values.items if values is not None else []
            return [None if _is_null(nulls, i) else _text(v) for i, v in enumerate(items)]
    return []


def _single_value(value: Struct) -> Cell:
    """One TColumnValue (a union of T<Type>Value, each with an optional value)."""
    for _, (_, typed) in value.fields.items():
        if isinstance(typed, Struct):
            inner = typed.get(_VALUE)
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
