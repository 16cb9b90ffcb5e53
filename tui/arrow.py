"""Rows from the wire into pyarrow tables, typed by the result's column types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

_TYPES = {
    "BOOLEAN": pa.bool_(), "TINYINT": pa.int8(), "SMALLINT": pa.int16(), "INT": pa.int32(),
    "BIGINT": pa.int64(), "FLOAT": pa.float32(), "DOUBLE": pa.float64(),
}  # fmt: skip


def arrow_type(type_name: str) -> pa.DataType:
    return _TYPES.get(type_name.upper().removesuffix("_TYPE"), pa.string())


def rows_to_table(names: Sequence[str], types: Sequence[str], rows: Sequence[Sequence[Any]]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = []
    for values, type_name in zip(columns, types, strict=True):
        target = arrow_type(type_name)
        try:
            arrays.append(pa.array(values, type=target))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            arrays.append(pa.array([None if v is None else str(v) for v in values], type=pa.string()))
    unique = _unique(names)
    return pa.Table.from_arrays(arrays, names=unique)


def _unique(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_{count}")
    return out
