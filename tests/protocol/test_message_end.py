"""Finding where a bare (NOSASL) Thrift message ends: right wherever the bytes are cut, and never
rescanning, so a message's cost grows linearly with its size however it trickles in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adhoc.protocol.client_stream import NEED_DATA, ClientStream, Request
from adhoc.protocol.message_end import MessageEnd
from adhoc.protocol.thrift_binary import CALL, LIST, STRING, STRUCT, ListValue, Struct, encode_message
from tests.protocol.test_thrift_binary import structs


def scan_in_chunks(message: bytes, chunk: int) -> tuple[list[int | None], MessageEnd]:
    scanner, results = MessageEnd(), []
    for end in range(chunk, len(message) + chunk, chunk):
        results.append(scanner.scan(message[: min(end, len(message))]))
    return results, scanner


@given(structs(), st.integers(1, 64), st.binary(max_size=20))
def test_the_end_is_found_only_when_the_message_is_whole(body: Struct, chunk: int, after: bytes) -> None:
    message = encode_message("ExecuteStatement", CALL, 7, body)
    results, _ = scan_in_chunks(message, chunk)
    assert results[-1] == len(message)
    assert all(r is None for r in results[:-1])
    assert MessageEnd().scan(message + after) == len(message)  # whatever follows is the next message


@given(st.lists(structs(), min_size=1, max_size=4), st.lists(st.integers(1, 50), max_size=40))
def test_nosasl_stream_yields_each_message_once_however_it_is_cut(bodies: list[Struct], cuts: list[int]) -> None:
    messages = [encode_message("FetchResults", CALL, i, b) for i, b in enumerate(bodies)]
    data, stream, got, pos = b"".join(messages), ClientStream(), [], 0
    for size in [*cuts, len(data)]:
        stream.receive_data(data[pos : pos + size])
        pos += size
        while (event := stream.next_event()) is not NEED_DATA:
            assert isinstance(event, Request)
            got.append(event.raw)
    assert got == messages


def big_message(mb: int) -> bytes:
    strings = ListValue(STRING, [b"x" * 1024] * (mb * 1024))
    return encode_message("ExecuteStatement", CALL, 0, Struct().set(1, STRUCT, Struct().set(2, LIST, strings)))


def test_scanning_work_grows_linearly_with_the_size_however_it_arrives() -> None:
    whole = {mb: MessageEnd() for mb in (4, 16)}
    for mb, scanner in whole.items():
        assert scanner.scan(big_message(mb)) == len(big_message(mb))
    # twice... four times the bytes: four times the work, not sixteen
    assert whole[16].work <= 4.1 * whole[4].work
    message = big_message(16)
    results, chunked = scan_in_chunks(message, 64 * 1024)
    assert results[-1] == len(message)
    # in 256 reads of 64 KB: the whole message's work plus a step or two per read, never a rescan
    assert chunked.work <= whole[16].work + 2 * len(results)


def test_a_16_mb_nosasl_message_in_64_kb_reads_is_decoded_once() -> None:
    message = big_message(16)
    stream, events = ClientStream(max_frame_bytes=32 * 1024 * 1024), []
    for pos in range(0, len(message), 64 * 1024):
        stream.receive_data(message[pos : pos + 64 * 1024])
        events.append(stream.next_event())
    assert events[:-1] == [NEED_DATA] * (len(events) - 1)
    last = events[-1]
    assert isinstance(last, Request) and last.raw == message
    whole = MessageEnd()
    whole.scan(message)
    assert stream._message_end.work <= whole.work + 2 * len(events)
