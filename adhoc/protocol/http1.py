"""HTTP/1.1 requests from bytes, and responses to bytes: the HTTP transport's wire, without I/O.

    reader = RequestReader(max_body=64 << 20)
    reader.receive_data(data)
    while (event := reader.next_event()) is not NEED_DATA:
        ...  # Request (whole, body read), Continue (send 100 now), or HttpError (answer it, close)

Only what HiveServer2 clients send is served: a request line, headers, and a body framed by
Content-Length or chunked. The reader keeps one request's bytes at most plus what is pipelined
behind it, finds the end of the head without rescanning, and refuses before reading a body:
a head over `max_head` bytes (431), a Content-Length over `max_body` (413, so a 3 GB
announcement costs nothing), both Content-Length and Transfer-Encoding (400: request smuggling),
a POST with neither (411). After an HttpError the reader is spent: answer and close.

Why not h11 (well kept, sans-IO, the shape this follows): beeline sends one POST per Thrift call,
100,002 of them for a 100k-row fetch, and h11 costs 63 µs per request and response here (measured
with beeline's request head and a 100-byte body) — 6.3 s of gateway CPU per fetch, against 1.6–2.3 s
for the whole gateway with this reader, which also skips re-parsing a head identical to the last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

NEED_DATA: Final = object()
_MAX_HEADERS = 100
_REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 408: "Request Timeout", 411: "Length Required",
            413: "Payload Too Large", 431: "Request Header Fields Too Large", 501: "Not Implemented",
            503: "Service Unavailable", 505: "HTTP Version Not Supported"}  # fmt: skip


@dataclass(slots=True)
class Request:
    method: bytes
    target: bytes
    headers: dict[bytes, bytes]  # lower-case names; a repeated header's values joined by ", ". Read
    # only: requests with the same head share it
    body: bytes
    keep_alive: bool


@dataclass(slots=True)
class Continue:
    """The client waits for `100 Continue` before sending its body (`Expect: 100-continue`)."""


@dataclass(slots=True)
class HttpError:
    status: int
    message: str


class RequestReader:
    __slots__ = ("_buf", "_chunks", "_head", "_last", "_last_head", "_length", "_scanned", "_spent", "max_body",
                 "max_head")  # fmt: skip

    def __init__(self, max_body: int, max_head: int = 64 * 1024) -> None:
        self.max_body = max_body
        self.max_head = max_head
        self._buf = bytearray()
        self._scanned = 0  # where the search for the end of the head resumes
        self._head: Request | None = None  # the head read, its body still to come
        self._length = -1  # the body's Content-Length; -1: chunked
        self._chunks = bytearray()  # a chunked body decoded so far
        self._spent = False
        self._last_head = b"\x00"  # the previous head's bytes (never a real one at first) and its reading
        self._last = _Head(b"", b"", {}, 0, False, False)

    @property
    def buffered(self) -> int:
        return len(self._buf)

    @property
    def mid_request(self) -> bool:
        """Part of a request has arrived (a slow client's timer runs)."""
        return bool(self._buf) or self._head is not None

    def receive_data(self, data: bytes) -> None:
        if not self._spent:
            self._buf += data

    def next_event(self) -> Request | Continue | HttpError | object:
        if self._spent:
            return NEED_DATA
        try:
            if self._head is None:
                head = self._read_head()
                if head is not None:
                    return head  # NEED_DATA, or Continue
            return self._read_body()
        except _Refused as e:
            self._spent = True
            self._buf.clear()
            return HttpError(e.status, e.message)

    # -- head ---------------------------------------------------------------------------------------

    def _read_head(self) -> Continue | object | None:
        """None once the head is read (the body comes next), else the event to return now."""
        buf = self._buf
        while buf.startswith(b"\r\n"):  # an empty line between requests is allowed (RFC 9112 2.2)
            del buf[:2]
        end = buf.find(b"\r\n\r\n", max(0, self._scanned - 3))
        if end < 0:
            self._scanned = len(buf)
            if len(buf) > self.max_head:
                raise _Refused(431, "the request head is too large")
            return NEED_DATA
        if end > self.max_head:
            raise _Refused(431, "the request head is too large")
        if end == len(self._last_head) and buf.startswith(self._last_head):
            head = self._last  # the head of the previous request again (Hive JDBC's, with its status calls)
        else:
            head = _parse_head(bytes(buf[:end]), self.max_body)
            self._last_head, self._last = bytes(buf[:end]), head
        del buf[: end + 4]
        self._scanned = 0
        self._length = head.length
        self._head = Request(head.method, head.target, head.headers, b"", head.keep_alive)
        self._chunks = bytearray()
        return Continue() if head.expects_continue and not buf else None

    # -- body ---------------------------------------------------------------------------------------

    def _read_body(self) -> Request | object:
        head = self._head
        assert head is not None
        if self._length >= 0:
            if len(self._buf) < self._length:
                return NEED_DATA
            head.body = bytes(self._buf[: self._length])
            del self._buf[: self._length]
        elif not self._read_chunks():
            return NEED_DATA
        else:
            head.body = bytes(self._chunks)
            self._chunks = bytearray()
        self._head = None
        return head

    def _read_chunks(self) -> bool:
        """Decode whole chunks from the buffer; True once the last chunk and trailers are in."""
        buf = self._buf
        while True:
            line_end = buf.find(b"\r\n")
            if line_end < 0:
                if len(buf) > 1024:
                    raise _Refused(400, "a bad chunk size line")
                return False
            size_text = bytes(buf[:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _Refused(400, "a bad chunk size") from None
            if size < 0 or len(self._chunks) + size > self.max_body:
                raise _Refused(413, f"the body is over the limit of {self.max_body} bytes")
            if size == 0:
                trailers_end = buf.find(b"\r\n", line_end + 2)
                while trailers_end > line_end + 2:  # skip trailer fields up to the empty line
                    line_end = trailers_end
                    trailers_end = buf.find(b"\r\n", line_end + 2)
                if trailers_end < 0:
                    return False
                del buf[: trailers_end + 2]
                return True
            if len(buf) < line_end + 2 + size + 2:
                return False
            start = line_end + 2
            if buf[start + size : start + size + 2] != b"\r\n":
                raise _Refused(400, "a chunk without its CRLF")
            self._chunks += buf[start : start + size]
            del buf[: start + size + 2]


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


@dataclass(frozen=True, slots=True)
class _Head:
    method: bytes
    target: bytes
    headers: dict[bytes, bytes]
    length: int  # -1: chunked
    keep_alive: bool
    expects_continue: bool


def _parse_head(head: bytes, max_body: int) -> _Head:
    lines = head.split(b"\r\n")
    method, target, version = _request_line(lines[0])
    headers = _headers(lines[1:])
    length = headers.get(b"content-length")
    encoding = headers.get(b"transfer-encoding")
    if length is not None and encoding is not None:
        raise _Refused(400, "both Content-Length and Transfer-Encoding")
    if encoding is not None:
        if encoding.lower() != b"chunked":
            raise _Refused(501, f"Transfer-Encoding {encoding.decode('latin-1')} is not supported")
        size = -1
    elif length is not None:
        if not length.isdigit() or len(length) > 18:
            raise _Refused(400, "a bad Content-Length")
        size = int(length)
        if size > max_body:
            raise _Refused(413, f"the body ({size} bytes) is over the limit of {max_body} bytes")
    elif method == b"POST":
        raise _Refused(411, "a Content-Length is required")
    else:
        size = 0
    connection = headers.get(b"connection", b"").lower()
    keep_alive = b"close" not in connection if version == b"HTTP/1.1" else b"keep-alive" in connection
    expects_continue = headers.get(b"expect", b"").lower() == b"100-continue" and version == b"HTTP/1.1"
    return _Head(method, target, headers, size, keep_alive, expects_continue)


def _request_line(line: bytes) -> tuple[bytes, bytes, bytes]:
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
        raise _Refused(400, "a bad request line")
    method, target, version = parts
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        if version.startswith(b"HTTP/"):
            raise _Refused(505, "only HTTP/1.1 and HTTP/1.0 are served")
        raise _Refused(400, "a bad request line")
    return method, target, version


def _headers(lines: list[bytes]) -> dict[bytes, bytes]:
    if len(lines) > _MAX_HEADERS:
        raise _Refused(431, f"more than {_MAX_HEADERS} headers")
    headers: dict[bytes, bytes] = {}
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or b" " in name or b"\t" in name:
            raise _Refused(400, "a bad header line")  # also obsolete line folding, which RFC 9112 lets us refuse
        name = name.lower()
        value = value.strip(b" \t")
        if name in headers:
            if name in (b"content-length", b"transfer-encoding"):
                raise _Refused(400, f"a repeated {name.decode('latin-1')} header")
            headers[name] += (b"; " if name == b"cookie" else b", ") + value
        else:
            headers[name] = value
    return headers


# -- responses ---------------------------------------------------------------------------------------

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def response_head(status: int, length: int, content_type: bytes, extra: bytes = b"", keep_alive: bool = True) -> bytes:
    """The status line and headers of a response whose body is `length` bytes. `extra`: more
    header lines, each ending in CRLF."""
    close = b"" if keep_alive else b"Connection: close\r\n"
    return b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s%s\r\n" % (
        status, _REASONS.get(status, "Error").encode(), content_type, length, extra, close)  # fmt: skip
