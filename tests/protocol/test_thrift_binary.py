"""The schema-free Thrift codec: round trips, agreement with the thrift library, hostile bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from TCLIService import ttypes

from adhoc.errors import ProtocolError
from adhoc.protocol.thrift_binary import (
    BOOL,
    BYTE,
    CALL,
    DOUBLE,
    I16,
    I32,
    I64,
    LIST,
    MAP,
    STRING,
    STRUCT,
    Incomplete,
    ListValue,
    MapValue,
    Struct,
    encode_message,
    read_message,
)  # fmt: skip
from tests.hs2_raw import decode_reply, encode_call

scalars = st.one_of(
    st.tuples(st.just(BOOL), st.booleans()),
    st.tuples(st.just(BYTE), st.integers(-128, 127)),
    st.tuples(st.just(I16), st.integers(-(2**15), 2**15 - 1)),
    st.tuples(st.just(I32), st.integers(-(2**31), 2**31 - 1)),
    st.tuples(st.just(I64), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just(DOUBLE), st.floats(allow_nan=False)),
    st.tuples(st.just(STRING), st.binary(max_size=40)),
)


def structs(depth: int = 2) -> st.SearchStrategy[Struct]:
    values = scalars
    if depth > 0:
        values = st.one_of(
            scalars,
            structs(depth - 1).map(lambda s: (STRUCT, s)),
            st.lists(st.binary(max_size=8), max_size=5).map(lambda xs: (LIST, ListValue(STRING, list(xs)))),
            st.lists(st.tuples(st.binary(max_size=8), st.integers(0, 9)), max_size=4).map(
                lambda kv: (MAP, MapValue(STRING, I32, list(kv)))
            ),
        )
    return st.dictionaries(st.integers(-5, 40), values, max_size=6).map(lambda d: Struct(dict(d)))


@given(structs(), st.sampled_from(["ExecuteStatement", "FetchResults"]), st.integers(-(2**31), 2**31 - 1))
def test_round_trip(body: Struct, name: str, seqid: int) -> None:
    data = encode_message(name, CALL, seqid, body)
    header, decoded, end = read_message(data)
    assert (header.name, header.type, header.seqid, end) == (name, CALL, seqid, len(data))
    assert decoded == body
    assert encode_message(name, CALL, seqid, decoded) == data  # byte-exact re-encoding


@given(structs())
def test_every_proper_prefix_is_incomplete(body: Struct) -> None:
    data = encode_message("GetInfo", CALL, 0, body)
    for cut in range(len(data)):
        with pytest.raises(Incomplete):
            read_message(data[:cut])


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_protocol_errors(data: bytes) -> None:
    try:
        read_message(data)
    except ProtocolError:
        pass


def test_huge_declared_container_does_not_allocate() -> None:
    # a list header claiming 2**31-1 strings, in a 30-byte message
    data = encode_message("X", CALL, 0, Struct())[:-1] + b"\x0f\x00\x01\x0b\x7f\xff\xff\xff\x00"
    with pytest.raises(Incomplete):
        read_message(data)


def test_agrees_with_the_thrift_library() -> None:
    handle = ttypes.TSessionHandle(ttypes.THandleIdentifier(guid=bytes(range(16)), secret=b"\xff" * 16))
    req = ttypes.TExecuteStatementReq(
        sessionHandle=handle, statement="SELECT 'é'", confOverlay={"a": "b"}, runAsync=True
    )
    raw = encode_call("ExecuteStatement", req, seqid=7)
    header, args, _ = read_message(raw)
    decoded = args.struct(1)
    assert decoded is not None and header.seqid == 7
    assert decoded.text(2) == "SELECT 'é'" and decoded.bool(4) is True
    ident = decoded.struct(1).struct(1)  # type: ignore[union-attr]
    assert ident.bytes(1) == bytes(range(16)) and ident.bytes(2) == b"\xff" * 16
    # and what we encode, the library reads
    from adhoc.protocol import hs2

    reply = hs2.error_reply("ExecuteStatement", 7, ProtocolError("boom"))
    resp = decode_reply("ExecuteStatement", reply)
    assert resp.status.statusCode == 3 and resp.status.errorMessage == "boom" and resp.status.infoMessages is None
