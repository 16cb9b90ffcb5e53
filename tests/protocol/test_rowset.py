"""Synthesised result sets, read back by pyhive's generated code for old and new protocol versions."""

from __future__ import annotations

import pytest
from TCLIService import ttypes

from adhoc.protocol import hs2
from adhoc.protocol.rowset import ResultSet, log_lines, prepend_log_lines
from adhoc.protocol.thrift_binary import BOOL, STRUCT, Struct
from tests.hs2_raw import decode_reply

RESULT = ResultSet(columns=(("name", "string"), ("n", "bigint")), rows=(("a", 1), (None, 2), ("c", None)))


def fetch_reply(rowset: Struct) -> ttypes.TFetchResultsResp:
    resp = Struct().set(1, STRUCT, hs2.success_status()).set(2, BOOL, False).set(3, STRUCT, rowset)
    return decode_reply("FetchResults", hs2.reply("FetchResults", 0, resp))


def test_columnar_from_v6() -> None:
    rs = fetch_reply(RESULT.rowset(hs2.PROTOCOL_V6)).results
    names, numbers = rs.columns[0].stringVal, rs.columns[1].i64Val
    assert names.values == ["a", "", "c"] and names.nulls == b"\x02"
    assert numbers.values == [1, 2, 0] and numbers.nulls == b"\x04"


def test_row_based_before_v6() -> None:
    rows = fetch_reply(RESULT.rowset(hs2.PROTOCOL_V1)).results.rows
    assert [r.colVals[0].stringVal.value for r in rows] == ["a", None, "c"]
    assert [r.colVals[1].i64Val.value for r in rows] == [1, 2, None]


def test_slices_for_fetch_size() -> None:
    rs = fetch_reply(RESULT.rowset(hs2.PROTOCOL_V10, start=1, count=1)).results
    assert rs.startRowOffset == 1 and rs.columns[0].stringVal.values == [""]


def test_schema_reads_as_tableschema() -> None:
    resp = Struct().set(1, STRUCT, hs2.success_status()).set(2, STRUCT, RESULT.schema())
    schema = decode_reply("GetResultSetMetadata", hs2.reply("GetResultSetMetadata", 0, resp)).schema
    assert [(c.columnName, c.typeDesc.types[0].primitiveEntry.type, c.position) for c in schema.columns] == [
        ("name", ttypes.TTypeId.STRING_TYPE, 1),
        ("n", ttypes.TTypeId.BIGINT_TYPE, 2),
    ]


@pytest.mark.parametrize("protocol", [hs2.PROTOCOL_V1, hs2.PROTOCOL_V6, hs2.PROTOCOL_V10])
def test_prepend_keeps_engine_lines_and_nulls(protocol: int) -> None:
    engine = ResultSet(columns=(("log", "string"),), rows=(("engine 1",), (None,), ("engine 3",))).rowset(protocol)
    merged = fetch_reply(prepend_log_lines(engine, ["[adhoc] a", "[adhoc] b"], protocol)).results
    if protocol >= hs2.PROTOCOL_V6:
        col = merged.columns[0].stringVal
        assert col.values == ["[adhoc] a", "[adhoc] b", "engine 1", "", "engine 3"]
        assert col.nulls == b"\x08"
    else:
        assert [r.colVals[0].stringVal.value for r in merged.rows] == [
            "[adhoc] a",
            "[adhoc] b",
            "engine 1",
            None,
            "engine 3",
        ]


def test_prepend_into_nothing() -> None:
    merged = fetch_reply(prepend_log_lines(None, ["[adhoc] x"], hs2.PROTOCOL_V6)).results
    assert merged.columns[0].stringVal.values == ["[adhoc] x"]
    assert log_lines(["x"]).columns == (("operation_log", "string"),)
