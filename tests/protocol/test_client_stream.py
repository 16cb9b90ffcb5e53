"""The client-facing stream: SASL handshakes, NOSASL, and framing however the bytes arrive."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from TCLIService import ttypes

from adhoc.errors import FrameTooLarge, ProtocolError
from adhoc.protocol.client_stream import NEED_DATA, ClientStream, Credentials, Request, Transport
from tests.hs2_raw import BAD, COMPLETE, OK, START, encode_call, sasl_frame

CALLS = [
    encode_call("OpenSession", ttypes.TOpenSessionReq(client_protocol=5, username="u")),
    encode_call("ExecuteStatement", ttypes.TExecuteStatementReq(statement="SELECT 1" * 50)),
    encode_call("GetInfo", ttypes.TGetInfoReq(infoType=18)),
]


def framed(message: bytes) -> bytes:
    return struct.pack(">I", len(message)) + message


def events(stream: ClientStream, data: bytes, chunks: list[int]) -> list[object]:
    out: list[object] = []
    pos = 0
    for size in [*chunks, len(data)]:
        stream.receive_data(data[pos : pos + size])
        pos += size
        while (event := stream.next_event()) is not NEED_DATA:
            out.append(event)
            if isinstance(event, Credentials):
                assert stream.accept() == sasl_frame(COMPLETE, b"")
        if pos >= len(data):
            break
    return out


@given(st.lists(st.integers(1, 40), max_size=30), st.sampled_from([OK, COMPLETE]))
def test_sasl_stream_in_any_chunking(chunks: list[int], final: int) -> None:
    data = sasl_frame(START, b"PLAIN") + sasl_frame(final, b"\0alice\0secret") + b"".join(map(framed, CALLS))
    stream = ClientStream()
    got = events(stream, data, chunks)
    assert got[0] == Credentials("", "alice", "secret")
    assert [e.raw for e in got[1:] if isinstance(e, Request)] == CALLS
    assert stream.transport is Transport.SASL


@given(st.lists(st.integers(1, 40), max_size=30))
def test_nosasl_stream_in_any_chunking(chunks: list[int]) -> None:
    stream = ClientStream()
    got = events(stream, b"".join(CALLS), chunks)
    assert [e.raw for e in got if isinstance(e, Request)] == CALLS
    assert stream.transport is Transport.NOSASL


def test_messages_packed_in_one_frame_and_split_across_frames() -> None:
    payload = b"".join(CALLS)
    cut = len(CALLS[0]) + 5
    data = sasl_frame(START, b"PLAIN") + sasl_frame(OK, b"\0a\0b") + framed(payload[:cut]) + framed(payload[cut:])
    got = events(ClientStream(), data, [])
    assert [e.raw for e in got if isinstance(e, Request)] == CALLS


def test_password_is_never_in_the_repr() -> None:
    assert "secret" not in repr(Credentials("", "alice", "secret"))


@pytest.mark.parametrize(
    "data, error",
    [
        (b"GET / HTTP/1.1\r\n", ProtocolError),
        (sasl_frame(START, b"GSSAPI"), ProtocolError),
        (sasl_frame(START, b"PLAIN") + sasl_frame(OK, b"no-nuls"), ProtocolError),
        (sasl_frame(START, b"PLAIN") + sasl_frame(BAD, b"bye"), ProtocolError),
        (sasl_frame(START, b"PLAIN") + struct.pack(">BI", OK, 10**6), FrameTooLarge),
    ],
)
def test_bad_handshakes(data: bytes, error: type[Exception]) -> None:
    stream = ClientStream()
    stream.receive_data(data)
    with pytest.raises(error):
        while stream.next_event() is not NEED_DATA:
            pass


def test_frame_over_the_limit() -> None:
    stream = ClientStream(max_frame_bytes=1000)
    stream.receive_data(sasl_frame(START, b"PLAIN") + sasl_frame(OK, b"\0a\0b"))
    assert isinstance(stream.next_event(), Credentials)
    stream.accept()
    stream.receive_data(struct.pack(">I", 1001))
    with pytest.raises(FrameTooLarge):
        stream.next_event()


def test_reject_ends_the_handshake() -> None:
    stream = ClientStream()
    stream.receive_data(sasl_frame(START, b"PLAIN") + sasl_frame(OK, b"\0a\0wrong"))
    assert isinstance(stream.next_event(), Credentials)
    assert stream.reject("authentication failed") == sasl_frame(BAD, b"authentication failed")
    assert not stream.authenticated
