"""An instant-reply HiveServer2 engine: SASL PLAIN, then a canned correct reply to every call.

    python -m benchmarks.fake_engine PORT

Replies are encoded once per (method, seqid) with the thrift library and pyhive's structs, so the
engine's own cost is a dictionary lookup: what remains is the cost of whatever sits in front of it.
"""

from __future__ import annotations

import asyncio
import struct
import sys

from TCLIService import TCLIService, ttypes
from thrift.protocol.TBinaryProtocol import TBinaryProtocol
from thrift.Thrift import TMessageType
from thrift.transport.TTransport import TMemoryBuffer

from adhoc.protocol.thrift_binary import read_message_header

_OK = ttypes.TStatus(statusCode=0)
_SESSION = ttypes.TSessionHandle(ttypes.THandleIdentifier(guid=b"s" * 16, secret=b"t" * 16))
_OPERATION = ttypes.TOperationHandle(
    operationId=ttypes.THandleIdentifier(guid=b"o" * 16, secret=b"p" * 16), operationType=0, hasResultSet=True
)
RESPONSES = {
    "OpenSession": ttypes.TOpenSessionResp(status=_OK, serverProtocolVersion=5, sessionHandle=_SESSION),
    "ExecuteStatement": ttypes.TExecuteStatementResp(status=_OK, operationHandle=_OPERATION),
    "GetOperationStatus": ttypes.TGetOperationStatusResp(status=_OK, operationState=2),
    "CloseSession": ttypes.TCloseSessionResp(status=_OK),
    "CloseOperation": ttypes.TCloseOperationResp(status=_OK),
    "CancelOperation": ttypes.TCancelOperationResp(status=_OK),
}
_cache: dict[tuple[str, int], bytes] = {}


def reply(name: str, seqid: int) -> bytes:
    key = (name, seqid)
    if key not in _cache:
        buf = TMemoryBuffer()
        proto = TBinaryProtocol(buf)
        proto.writeMessageBegin(name, TMessageType.REPLY, seqid)
        getattr(TCLIService, f"{name}_result")(success=RESPONSES[name]).write(proto)
        proto.writeMessageEnd()
        _cache[key] = struct.pack(">I", len(buf.getvalue())) + buf.getvalue()
    return _cache[key]


async def serve_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        for _ in range(2):  # START "PLAIN", then the credentials
            _, length = struct.unpack(">BI", await reader.readexactly(5))
            await reader.readexactly(length)
        writer.write(b"\x05\x00\x00\x00\x00")
        while True:
            (length,) = struct.unpack(">I", await reader.readexactly(4))
            header = read_message_header(await reader.readexactly(length))
            writer.write(reply(header.name, header.seqid))
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve_client, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
