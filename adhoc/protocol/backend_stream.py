"""The engine side of a gateway connection, sans-IO: the gateway is a SASL PLAIN client.

Engines (Spark Thrift Server, Kyuubi) run with SASL transport; after the handshake every reply is
one `length:u32be | payload` frame (the Java server flushes once per message). The gateway only
peeks at a reply's header; the whole frame goes on to a SASL client as it came.
"""

from __future__ import annotations

from dataclasses import dataclass

from adhoc.errors import EngineError, FrameTooLarge
from adhoc.protocol.buffer import ReceiveBuffer
from adhoc.protocol.client_stream import BAD, COMPLETE, ERROR, NEED_DATA, OK, START, _NeedData, sasl_frame
from adhoc.protocol.thrift_binary import MessageHeader, read_message_header


@dataclass(frozen=True, slots=True)
class HandshakeDone:
    pass


@dataclass(frozen=True, slots=True)
class Reply:
    """One Thrift reply from the engine: `frame` is length prefix + message, `message` a view of it."""

    header: MessageHeader
    frame: bytes

    @property
    def message(self) -> memoryview:
        return memoryview(self.frame)[4:]


BackendEvent = HandshakeDone | Reply | _NeedData


class BackendStream:
    def __init__(self, max_frame_bytes: int = 1 << 31) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buffer = ReceiveBuffer()
        self.handshake_done = False

    def start(self, user: str, password: str) -> bytes:
        """The bytes that open a SASL PLAIN handshake (as Hive JDBC does: START, then COMPLETE)."""
        credentials = b"\x00" + user.encode() + b"\x00" + (password or "anonymous").encode()
        return sasl_frame(START, b"PLAIN") + sasl_frame(COMPLETE, credentials)

    def receive_data(self, data: bytes) -> None:
        self._buffer.feed(data)

    @property
    def event_ready(self) -> bool:
        """next_event() would hand out something (or fail) rather than NEED_DATA."""
        buffer = self._buffer
        if not self.handshake_done:
            head = buffer.peek_status_u32()
            return head is not None and len(buffer) >= 5 + head[1]
        size = buffer.peek_u32()
        return size is not None and (len(buffer) >= 4 + size or size > self.max_frame_bytes)

    def next_event(self) -> BackendEvent:
        if not self.handshake_done:
            head = self._buffer.peek_status_u32()
            if head is None or len(self._buffer) < 5 + head[1]:
                return NEED_DATA
            status, length = head
            self._buffer.skip(5)
            payload = self._buffer.take(length)
            if status in (BAD, ERROR):
                raise EngineError(f"engine refused the connection: {payload.decode('utf-8', 'replace')}")
            if status == OK:  # a challenge PLAIN never sends; answer nothing and wait for COMPLETE
                return self.next_event()
            if status != COMPLETE:
                raise EngineError(f"engine sent SASL status {status} during the handshake")
            self.handshake_done = True
            return HandshakeDone()
        size = self._buffer.peek_u32()
        if size is None:
            return NEED_DATA
        length = size
        if length > self.max_frame_bytes:
            raise FrameTooLarge(f"engine frame of {length} bytes exceeds the limit")
        if len(self._buffer) < 4 + length:
            return NEED_DATA
        frame = self._buffer.take(4 + length)
        return Reply(read_message_header(frame, 4), frame)

    @staticmethod
    def frame(message: bytes) -> bytes:
        return len(message).to_bytes(4, "big") + message
