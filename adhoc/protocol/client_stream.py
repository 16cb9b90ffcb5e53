"""The client side of a gateway connection, sans-IO: bytes in, events out.

    stream = ClientStream(max_frame_bytes=...)
    stream.receive_data(data)
    while (event := stream.next_event()) is not NEED_DATA:
        ...  # Credentials -> stream.accept() / stream.reject(msg); Request -> relay it

The first byte tells the transport: 0x01 is a SASL START frame (every SASL frame is
`status:u8 | length:u32be | payload` until the handshake completes, then `length:u32be | payload`);
0x80 (or 0x00 for old non-strict clients) is a bare Thrift message from a NOSASL client.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from adhoc.errors import FrameTooLarge, ProtocolError
from adhoc.protocol.buffer import ReceiveBuffer
from adhoc.protocol.message_end import MessageEnd
from adhoc.protocol.thrift_binary import Incomplete, MessageHeader, Struct, read_message

# SASL negotiation statuses
START, OK, BAD, ERROR, COMPLETE = 1, 2, 3, 4, 5


class Transport(enum.Enum):
    UNKNOWN = "unknown"
    SASL = "sasl"
    NOSASL = "nosasl"


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()


@dataclass(frozen=True, slots=True)
class Credentials:
    """SASL PLAIN credentials; the caller answers with accept() or reject()."""

    authzid: str
    user: str
    password: str = ""

    def __repr__(self) -> str:  # never show the password
        return f"Credentials(user={self.user!r})"


@dataclass(frozen=True, slots=True)
class Request:
    """One Thrift call from the client: its header, decoded arguments and original bytes."""

    header: MessageHeader
    args: Struct
    raw: bytes  # the whole message, to forward unchanged


Event = Credentials | Request | _NeedData


class _State(enum.Enum):
    START = "start"
    SASL_START = "sasl_start"  # waiting for the mechanism
    SASL_AUTH = "sasl_auth"  # waiting for the PLAIN response
    SASL_PENDING = "sasl_pending"  # credentials handed out, waiting for accept/reject
    DATA = "data"
    CLOSED = "closed"


def sasl_frame(status: int, payload: bytes) -> bytes:
    return bytes([status]) + len(payload).to_bytes(4, "big") + payload


class ClientStream:
    def __init__(self, max_frame_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.transport = Transport.UNKNOWN
        self._buffer = ReceiveBuffer()
        self._state = _State.START
        self._pending = bytearray()  # SASL: payload bytes of a message split across frames
        self._message_end = MessageEnd()  # where the message being gathered ends, scanned once

    @property
    def authenticated(self) -> bool:
        return self._state is _State.DATA

    @property
    def drained(self) -> bool:
        """No bytes of a message are held: the next bytes received start a new message."""
        return not self._buffer and not self._pending

    def receive_data(self, data: bytes) -> None:
        self._buffer.feed(data)

    def next_event(self) -> Event:
        while True:
            if self._state is _State.START:
                first = self._buffer.first_byte()
                if first is None:
                    return NEED_DATA
                if first == START:
                    self.transport, self._state = Transport.SASL, _State.SASL_START
                elif first in (0x80, 0x00):
                    self.transport, self._state = Transport.NOSASL, _State.DATA
                else:
                    raise ProtocolError(f"not a HiveServer2 client (first byte 0x{first:02x})")
            elif self._state in (_State.SASL_START, _State.SASL_AUTH):
                event = self._next_sasl()
                if event is not None:
                    return event
            elif self._state is _State.SASL_PENDING:
                return NEED_DATA
            elif self._state is _State.DATA:
                if self.transport is Transport.SASL:
                    return self._next_sasl_message()
                return self._next_bare_message()
            else:
                return NEED_DATA

    def accept(self) -> bytes:
        """Bytes that tell a SASL client its credentials were accepted."""
        if self._state is not _State.SASL_PENDING:
            raise ProtocolError("no SASL handshake is waiting for a decision")
        self._state = _State.DATA
        return sasl_frame(COMPLETE, b"")

    def reject(self, message: str) -> bytes:
        """Bytes that fail a SASL handshake; clients show 'Peer indicated failure: <message>'."""
        self._state = _State.CLOSED
        return sasl_frame(BAD, message.encode())

    def frame(self, message: bytes) -> bytes:
        """Wrap one outgoing Thrift message for this client's transport."""
        if self.transport is Transport.SASL:
            return len(message).to_bytes(4, "big") + message
        return message

    # -- SASL handshake ---------------------------------------------------------------------

    def _next_sasl(self) -> Event | None:
        """An event, NEED_DATA, or None after consuming the START frame (call again)."""
        head = self._buffer.peek_status_u32()
        if head is None:
            return NEED_DATA
        status, length = head
        if length > 64 * 1024:
            raise FrameTooLarge(f"SASL negotiation frame of {length} bytes")
        if len(self._buffer) < 5 + length:
            return NEED_DATA
        self._buffer.skip(5)
        payload = self._buffer.take(length)
        if status in (BAD, ERROR):
            raise ProtocolError(f"client aborted SASL: {payload.decode('utf-8', 'replace')}")
        if self._state is _State.SASL_START:
            if status != START:
                raise ProtocolError(f"expected SASL START, got status {status}")
            mechanism = payload.decode("ascii", "replace")
            if mechanism.upper() != "PLAIN":
                raise ProtocolError(f"unsupported SASL mechanism {mechanism!r}; use PLAIN")
            self._state = _State.SASL_AUTH
            return None
        if status not in (OK, COMPLETE):
            raise ProtocolError(f"unexpected SASL status {status}")
        parts = payload.split(b"\x00")
        if len(parts) != 3:
            raise ProtocolError("malformed SASL PLAIN response")
        authzid, user, password = (p.decode("utf-8", "replace") for p in parts)
        self._state = _State.SASL_PENDING
        return Credentials(authzid, user, password)

    # -- data -------------------------------------------------------------------------------

    def _next_sasl_message(self) -> Event:
        while True:
            if self._pending:
                event = self._split_pending()
                if event is not None:
                    return event
            length = self._buffer.peek_u32()
            if length is None:
                return NEED_DATA
            if length > self.max_frame_bytes or len(self._pending) + length > self.max_frame_bytes:
                raise FrameTooLarge(f"frame of {length} bytes exceeds the limit of {self.max_frame_bytes}")
            if len(self._buffer) < 4 + length:
                return NEED_DATA
            self._buffer.skip(4)
            payload = self._buffer.take(length)
            if not self._pending:
                try:  # decoding finds the end too: one pass for the usual one message per frame
                    header, args, end = read_message(payload)
                except Incomplete:
                    self._pending += payload
                    continue
                if end < len(payload):  # more than one message in the frame
                    self._pending += payload[end:]
                    payload = payload[:end]
                return Request(header, args, payload)
            self._pending += payload

    def _split_pending(self) -> Request | None:
        """A message gathered from several frames: scanned where the last look stopped."""
        end = self._message_end.scan(self._pending)
        if end is None:
            return None
        self._message_end.reset()
        data = bytes(self._pending[:end])
        del self._pending[:end]
        return self._request(data)

    def _next_bare_message(self) -> Event:
        view = self._buffer.view()
        try:
            end = self._message_end.scan(view)
        finally:
            view.release()  # the buffer may grow once this view is gone
        if end is None:
            if len(self._buffer) > self.max_frame_bytes:
                raise FrameTooLarge(f"message over {self.max_frame_bytes} bytes")
            return NEED_DATA
        self._message_end.reset()
        return self._request(self._buffer.take(end))

    @staticmethod
    def _request(data: bytes) -> Request:
        header, args, _ = read_message(data)
        return Request(header, args, data)
