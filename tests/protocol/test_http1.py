"""The HTTP transport's request reader: what HiveServer2 clients send is read whole, in order,
however the bytes are split; hostile heads are refused before their bodies are read."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adhoc.protocol.http1 import NEED_DATA, Continue, HttpError, Request, RequestReader, response_head

BEELINE = (b"POST /cliservice HTTP/1.1\r\nContent-Type: application/x-thrift\r\nAuthorization: Basic YTpi\r\n"
           b"Content-Length: 5\r\nHost: h\r\nConnection: Keep-Alive\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n"
           b"hello")  # fmt: skip
CHUNKED = (b"POST /cliservice/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n")  # fmt: skip


def events(reader: RequestReader) -> list[object]:
    out = []
    while (event := reader.next_event()) is not NEED_DATA:
        out.append(event)
    return out


def read_all(data: bytes, cuts: list[int], max_body: int = 1000) -> list[object]:
    reader = RequestReader(max_body)
    out: list[object] = []
    start = 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        reader.receive_data(data[start:cut])
        start = max(start, cut)
        out += events(reader)
    return out


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=6))
def test_pipelined_requests_are_read_whole_and_in_order_however_split(cuts: list[int]) -> None:
    got = read_all(BEELINE + CHUNKED + b"GET /x HTTP/1.0\r\n\r\n", cuts)
    assert [(r.method, r.target, r.body, r.keep_alive) for r in got if isinstance(r, Request)] == [
        (b"POST", b"/cliservice", b"hello", True),
        (b"POST", b"/cliservice/", b"abcde", True),
        (b"GET", b"/x", b"", False),  # HTTP/1.0 without keep-alive closes
    ]
    first = got[0]
    assert isinstance(first, Request)
    assert first.headers[b"authorization"] == b"Basic YTpi" and first.headers[b"cookie"] == b"a=1; b=2"


def test_a_huge_content_length_is_refused_from_the_head() -> None:
    reader = RequestReader(max_body=64 << 20)
    reader.receive_data(b"POST /cliservice HTTP/1.1\r\nContent-Length: 3000000000\r\n\r\n")
    [refused] = events(reader)
    assert isinstance(refused, HttpError) and refused.status == 413
    reader.receive_data(b"x" * 1000)  # spent: nothing more is read
    assert events(reader) == [] and reader.buffered == 0


def refusal(data: bytes, max_body: int = 1000) -> int:
    [event] = events(_fed(data, max_body))
    assert isinstance(event, HttpError)
    return event.status


def _fed(data: bytes, max_body: int) -> RequestReader:
    reader = RequestReader(max_body, max_head=4096)
    reader.receive_data(data)
    return reader


def test_hostile_heads_get_their_status() -> None:
    assert refusal(b"\x00\x01garbage\r\n\r\n") == 400
    assert refusal(b"POST /a HTTP/2.0\r\n\r\n") == 505
    assert refusal(b"POST /a HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") == 400
    assert refusal(b"POST /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") == 400
    assert refusal(b"POST /a HTTP/1.1\r\nContent-Length: -5\r\n\r\n") == 400
    assert refusal(b"POST /a HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n") == 501
    assert refusal(b"POST /a HTTP/1.1\r\n\r\n") == 411
    assert refusal(b"POST /a HTTP/1.1\r\nX: 1\r\n folded\r\n\r\n") == 400
    assert refusal(b"POST /a HTTP/1.1\r\nX-" + b"a" * 5000) == 431  # no end of head in sight
    assert refusal(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfff\r\n") == 413  # a chunk past max_body
    assert refusal(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") == 400


def test_expect_continue_is_answered_before_the_body() -> None:
    reader = _fed(b"POST /a HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n", 1000)
    assert events(reader) == [Continue()]
    reader.receive_data(b"abc")
    [request] = events(reader)
    assert isinstance(request, Request) and request.body == b"abc"


def test_response_head() -> None:
    assert response_head(200, 3, b"application/x-thrift") == (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-thrift\r\nContent-Length: 3\r\n\r\n")  # fmt: skip
    assert response_head(401, 0, b"text/plain", b"X: y\r\n", keep_alive=False).endswith(
        b"Content-Length: 0\r\nX: y\r\nConnection: close\r\n\r\n")  # fmt: skip
