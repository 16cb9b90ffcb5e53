"""A bare-hands HiveServer2 client for tests that misbehave on purpose.

Messages are built with the thrift library's own binary protocol and pyhive's generated structs,
so the gateway's hand-written codec is checked against an independent implementation.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from TCLIService import TCLIService, ttypes
from thrift.protocol.TBinaryProtocol import TBinaryProtocol
from thrift.Thrift import TMessageType
from thrift.transport.TTransport import TMemoryBuffer

START, OK, BAD, ERROR, COMPLETE = 1, 2, 3, 4, 5


def encode_call(name: str, req: Any, seqid: int = 0) -> bytes:
    buf = TMemoryBuffer()
    proto = TBinaryProtocol(buf)
    proto.writeMessageBegin(name, TMessageType.CALL, seqid)
    args = getattr(TCLIService, f"{name}_args")(req=req)
    args.write(proto)
    proto.writeMessageEnd()
    return buf.getvalue()


def decode_reply(name: str, data: bytes) -> Any:
    proto = TBinaryProtocol(TMemoryBuffer(data))
    _, mtype, _ = proto.readMessageBegin()
    assert mtype == TMessageType.REPLY, mtype
    result = getattr(TCLIService, f"{name}_result")()
    result.read(proto)
    return result.success


def sasl_frame(status: int, payload: bytes) -> bytes:
    return bytes([status]) + struct.pack(">I", len(payload)) + payload


def recv_exact(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


class RawClient:
    def __init__(self, host: str, port: int, timeout: float = 10) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)

    def sasl_login(self, user: str, password: str = "x", final: int = OK) -> tuple[int, bytes]:
        self.sock.sendall(
            sasl_frame(START, b"PLAIN") + sasl_frame(final, b"\0" + user.encode() + b"\0" + password.encode())
        )
        status, length = struct.unpack(">BI", recv_exact(self.sock, 5))
        return status, recv_exact(self.sock, length)

    def call(self, name: str, req: Any, framed: bool = True) -> Any:
        message = encode_call(name, req)
        self.sock.sendall(struct.pack(">I", len(message)) + message if framed else message)
        if framed:
            (length,) = struct.unpack(">I", recv_exact(self.sock, 4))
            return decode_reply(name, recv_exact(self.sock, length))
        return self._read_bare(name)

    def _read_bare(self, name: str) -> Any:
        data = b""
        while True:
            data += self.sock.recv(65536)
            try:
                return decode_reply(name, data)
            except Exception:  # incomplete: read more
                continue

    def open_session(self, user: str = "alice", framed: bool = True, protocol: int = 5, **conf: str) -> Any:
        req = ttypes.TOpenSessionReq(client_protocol=protocol, username=user, configuration=conf or None)
        return self.call("OpenSession", req, framed)

    def closed_by_peer(self, timeout: float = 5) -> bool:
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()
