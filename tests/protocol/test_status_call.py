"""The status-call recogniser against messages written by the thrift library, as clients write them."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st
from TCLIService import ttypes

from adhoc.protocol.status_call import framed_status_call, status_call
from tests.hs2_raw import encode_call

guids = st.binary(min_size=16, max_size=16)


def status_req(guid: bytes, secret: bytes, rows: float | None, progress: bool | None) -> ttypes.TGetOperationStatusReq:
    handle = ttypes.TOperationHandle(ttypes.THandleIdentifier(guid, secret), 0, True, rows)
    return ttypes.TGetOperationStatusReq(handle, getProgressUpdate=progress)


@given(guids, guids, st.integers(-(2**31), 2**31 - 1), st.none() | st.floats(allow_nan=False),
       st.none() | st.booleans())  # fmt: skip
def test_every_layout_clients_send_gives_the_seqid_and_guid(
    guid: bytes, secret: bytes, seqid: int, rows: float | None, progress: bool | None
) -> None:
    message = encode_call("GetOperationStatus", status_req(guid, secret, rows, progress), seqid)
    assert status_call(message) == (seqid, guid)
    assert framed_status_call(struct.pack(">I", len(message)) + message) == (seqid, guid)


@given(guids, st.integers(1, 40))
def test_a_truncated_or_longer_message_is_left_to_the_general_path(guid: bytes, cut: int) -> None:
    message = encode_call("GetOperationStatus", status_req(guid, b"s" * 16, None, None), 7)
    assert status_call(message[:-cut]) is None
    assert status_call(message + message) is None, "two calls in one frame: the general path splits them"
    framed = struct.pack(">I", len(message)) + message
    assert framed_status_call(framed[:-cut]) is None
    assert framed_status_call(framed + b"\x00") is None


def test_other_calls_and_handles_of_another_size_are_not_recognised() -> None:
    handle = ttypes.TOperationHandle(ttypes.THandleIdentifier(b"g" * 16, b"s" * 16), 0, True)
    assert status_call(encode_call("GetResultSetMetadata", ttypes.TGetResultSetMetadataReq(handle))) is None
    assert status_call(encode_call("CancelOperation", ttypes.TCancelOperationReq(handle))) is None
    odd = ttypes.TOperationHandle(ttypes.THandleIdentifier(b"g" * 15, b"s" * 16), 0, True)
    assert status_call(encode_call("GetOperationStatus", ttypes.TGetOperationStatusReq(odd))) is None


@given(st.binary(max_size=200))
def test_any_bytes_give_an_answer_or_none_never_an_error(data: bytes) -> None:
    status_call(data)
    framed_status_call(data)


@given(st.integers(0, 120), st.binary(max_size=40))
def test_a_real_call_cut_anywhere_and_followed_by_anything_never_raises(cut: int, tail: bytes) -> None:
    message = encode_call("GetOperationStatus", status_req(b"g" * 16, b"s" * 16, 1.0, True), 3)
    found = status_call(message[:cut] + tail)
    assert found is None or found == (3, b"g" * 16)
