"""A HiveServer2 engine in memory, sans-IO: sessions, statements, status, results, logs, cancel, close.

    engine = FakeEngine()
    reply = engine.answer(message)          # one Thrift call (unframed bytes) -> its reply message
    ctx = GatewayContext(..., connect_engine=engine.connector)   # in-process, for fast gateway tests
    python -m benchmarks.fake_engine PORT   # the same engine on TCP with SASL PLAIN (benchmarks)

Statements: `SELECT <n>` returns one row, n; one naming `range(N)` returns 0..N-1 (maxRows per
fetch); anything else one row, 1. A statement containing `fail`
ends in ERROR (sqlState 42P01, as Spark's "table or view not found"); one containing `sleep` runs
until cancelled. Async statements stay RUNNING for `polls_to_finish` status calls (0: done at once).
Like STS, handles are engine-global, not per connection. Messages are decoded and encoded with
the thrift library and pyhive's structs, independently of the gateway's own codec.
"""

from __future__ import annotations

import asyncio
import re
import struct
import sys
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from TCLIService import TCLIService, ttypes
from thrift.protocol.TBinaryProtocol import TBinaryProtocol
from thrift.Thrift import TApplicationException, TMessageType
from thrift.transport.TTransport import TMemoryBuffer

from adhoc.engines import Engine
from adhoc.errors import EngineError
from adhoc.protocol.backend_stream import Reply
from adhoc.protocol.thrift_binary import read_message_header

State = ttypes.TOperationState
OK = ttypes.TStatus(statusCode=ttypes.TStatusCode.SUCCESS_STATUS)
METADATA_CALLS = {"GetTypeInfo", "GetCatalogs", "GetSchemas", "GetTables", "GetTableTypes", "GetColumns",
                  "GetFunctions", "GetPrimaryKeys", "GetCrossReference"}  # fmt: skip
_SELECT_N = re.compile(r"^\s*select\s+(-?\d+)\s*$", re.IGNORECASE)
_RANGE_N = re.compile(r"\brange\((\d+)\)", re.IGNORECASE)


_FRAMES = [("org.apache.spark.sql.hive.thriftserver.SparkExecuteStatementOperation", "execute",
            "SparkExecuteStatementOperation.scala", 274), ("java.lang.Thread", "run", "Thread.java", 840)]  # fmt: skip


def error(message: str, sql_state: str = "HY000") -> ttypes.TStatus:
    """As Hive's HiveSQLException.toTStatus: the message, and the stack as infoMessages."""
    info = [f"*org.apache.hive.service.cli.HiveSQLException:{message}:{len(_FRAMES)}:{len(_FRAMES) - 1}"]
    info += [f"{cls}:{method}:{file}:{line}" for cls, method, file, line in _FRAMES]
    return ttypes.TStatus(ttypes.TStatusCode.ERROR_STATUS, info, sql_state, 0, message)


def printed(message: str) -> str:
    """The same exception as GetOperationStatus reports it: Java's printed stack trace."""
    frames = "".join(f"\n\tat {cls}.{method}({file}:{line})" for cls, method, file, line in _FRAMES)
    return f"org.apache.hive.service.cli.HiveSQLException: {message}{frames}"


@dataclass
class FakeOperation:
    guid: bytes
    session: bytes
    statement: str
    state: int = State.FINISHED_STATE
    polls_left: float = 0
    cursor: int = 0
    log_read: bool = False

    @property
    def fails(self) -> bool:
        return "fail" in self.statement.lower()

    @property
    def failure(self) -> str:
        return f"Error running query: Table or view not found: {self.statement}"

    @property
    def value(self) -> int:
        match = _SELECT_N.match(self.statement)
        return int(match.group(1)) if match else 1

    def handle(self) -> ttypes.TOperationHandle:
        return ttypes.TOperationHandle(ttypes.THandleIdentifier(self.guid, b"p" * 16), 0, True)

    def advance(self) -> None:
        if self.state == State.RUNNING_STATE:
            self.polls_left -= 1
            if self.polls_left <= 0:
                self.state = State.ERROR_STATE if self.fails else State.FINISHED_STATE


@dataclass
class FakeSession:
    guid: bytes
    user: str
    password: str
    conf: dict[str, str]
    protocol: int


@dataclass
class FakeEngine:
    polls_to_finish: int = 1
    protocol: int = ttypes.TProtocolVersion.HIVE_CLI_SERVICE_PROTOCOL_V9
    long_poll_s: float = 0.01  # how long a status call on a sleeping statement holds (in-process)
    sessions: dict[bytes, FakeSession] = field(default_factory=dict)
    operations: dict[bytes, FakeOperation] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)  # every call's method name
    requests: list[tuple[str, Any]] = field(default_factory=list)  # (name, decoded request), in order
    logins: list[tuple[str, str]] = field(default_factory=list)  # connection-level SASL logins
    unreachable: bool = False
    _die_on: set[str] = field(default_factory=set)

    # -- scripting -----------------------------------------------------------------------------

    def die_on(self, name: str) -> None:
        """The next `name` call reaches the engine, which then drops the connection without a reply."""
        self._die_on.add(name)

    def requests_of(self, name: str) -> list[Any]:
        return [req for n, req in self.requests if n == name]

    # -- the engine ----------------------------------------------------------------------------

    def answer(self, message: bytes) -> bytes:
        proto = TBinaryProtocol(TMemoryBuffer(message))
        name, _, seqid = proto.readMessageBegin()
        self.calls[name] += 1
        args_type = getattr(TCLIService, f"{name}_args", None)
        handler = getattr(self, f"_{name}", None)
        if args_type is None or handler is None:
            unknown = TApplicationException(TApplicationException.UNKNOWN_METHOD, f"Invalid method name: '{name}'")
            return _encode(name, TMessageType.EXCEPTION, seqid, unknown)
        args = args_type()
        args.read(proto)
        self.requests.append((name, args.req))
        result = getattr(TCLIService, f"{name}_result")(success=handler(args.req))
        return _encode(name, TMessageType.REPLY, seqid, result)

    def _OpenSession(self, req: Any) -> Any:
        guid = uuid.uuid4().bytes
        protocol = min(req.client_protocol, self.protocol)
        self.sessions[guid] = FakeSession(guid, req.username or "", req.password or "", dict(req.configuration or {}),
                                          protocol)  # fmt: skip
        handle = ttypes.TSessionHandle(ttypes.THandleIdentifier(guid, b"t" * 16))
        return ttypes.TOpenSessionResp(status=OK, serverProtocolVersion=protocol, sessionHandle=handle,
                                       configuration={})  # Hive JDBC reads it unchecked

    def _session(self, req: Any) -> FakeSession | None:
        return self.sessions.get(req.sessionHandle.sessionId.guid)

    def _CloseSession(self, req: Any) -> Any:
        session = self.sessions.pop(req.sessionHandle.sessionId.guid, None)
        if session is None:
            return ttypes.TCloseSessionResp(error("Invalid SessionHandle"))
        for guid in [g for g, op in self.operations.items() if op.session == session.guid]:
            del self.operations[guid]
        return ttypes.TCloseSessionResp(OK)

    def _GetInfo(self, req: Any) -> Any:
        return ttypes.TGetInfoResp(OK, ttypes.TGetInfoValue(stringValue="Spark SQL"))

    def _new_operation(self, session: FakeSession, statement: str, run_async: bool) -> FakeOperation:
        op = FakeOperation(uuid.uuid4().bytes, session.guid, statement)
        if run_async:
            op.state = State.RUNNING_STATE
            op.polls_left = float("inf") if "sleep" in statement.lower() else self.polls_to_finish
            if op.polls_left <= 0:
                op.state = State.ERROR_STATE if op.fails else State.FINISHED_STATE
        self.operations[op.guid] = op
        return op

    def _ExecuteStatement(self, req: Any) -> Any:
        session = self._session(req)
        if session is None:
            return ttypes.TExecuteStatementResp(error("Invalid SessionHandle"))
        op = self._new_operation(session, req.statement, bool(req.runAsync))
        if not req.runAsync and op.fails:
            del self.operations[op.guid]
            return ttypes.TExecuteStatementResp(error(op.failure, "42P01"))
        return ttypes.TExecuteStatementResp(OK, op.handle())

    def _metadata(self, req: Any) -> Any:
        session = self._session(req)
        if session is None:
            return ttypes.TGetTablesResp(error("Invalid SessionHandle"))
        return ttypes.TGetTablesResp(OK, self._new_operation(session, "metadata", False).handle())

    def _operation(self, req: Any) -> FakeOperation | None:
        return self.operations.get(req.operationHandle.operationId.guid)

    def _GetOperationStatus(self, req: Any) -> Any:
        op = self._operation(req)
        if op is None:
            return ttypes.TGetOperationStatusResp(error("Invalid OperationHandle"))
        op.advance()
        resp = ttypes.TGetOperationStatusResp(OK, op.state, hasResultSet=True)
        if op.state == State.ERROR_STATE:
            resp.sqlState, resp.errorCode = "42P01", 0
            resp.errorMessage = printed(op.failure)
        return resp

    def _CancelOperation(self, req: Any) -> Any:
        op = self._operation(req)
        if op is None:
            return ttypes.TCancelOperationResp(error("Invalid OperationHandle"))
        if op.state == State.RUNNING_STATE:
            op.state = State.CANCELED_STATE
        return ttypes.TCancelOperationResp(OK)

    def _CloseOperation(self, req: Any) -> Any:
        if self.operations.pop(req.operationHandle.operationId.guid, None) is None:
            return ttypes.TCloseOperationResp(error("Invalid OperationHandle"))
        return ttypes.TCloseOperationResp(OK)

    def _GetResultSetMetadata(self, req: Any) -> Any:
        entry = ttypes.TTypeEntry(primitiveEntry=ttypes.TPrimitiveTypeEntry(ttypes.TTypeId.INT_TYPE))
        column = ttypes.TColumnDesc("value", ttypes.TTypeDesc([entry]), 1)
        return ttypes.TGetResultSetMetadataResp(OK, ttypes.TTableSchema([column]))

    def _FetchResults(self, req: Any) -> Any:
        op = self._operation(req)
        if op is None:
            return ttypes.TFetchResultsResp(error("Invalid OperationHandle"))
        if req.fetchType == 1:
            lines = [] if op.log_read and req.orientation != 4 else [f"engine: running {op.statement}"]
            op.log_read = True
            column = ttypes.TColumn(stringVal=ttypes.TStringColumn(lines, b""))
            return ttypes.TFetchResultsResp(OK, False, ttypes.TRowSet(0, [], [column]))
        rows = _RANGE_N.search(op.statement)
        if rows:  # `... range(N)`: 0..N-1, up to maxRows per fetch
            end = min(int(rows.group(1)), op.cursor + max(req.maxRows, 1))
            values, op.cursor = list(range(op.cursor, end)), end
            column = ttypes.TColumn(i32Val=ttypes.TI32Column(values, b""))
            return ttypes.TFetchResultsResp(OK, end < int(rows.group(1)), ttypes.TRowSet(0, [], [column]))
        values = [op.value] if op.cursor == 0 else []
        op.cursor = 1
        column = ttypes.TColumn(i32Val=ttypes.TI32Column(values, b""))
        return ttypes.TFetchResultsResp(OK, False, ttypes.TRowSet(0, [], [column]))

    # -- in-process connections (ctx.connect_engine) ---------------------------------------------

    async def connector(self, engine: Engine, user: str, password: str, timeout: float) -> FakeEngineConnection:
        if self.unreachable:
            raise EngineError(f"engine {engine.name} at {engine.address} is unreachable: connection refused")
        self.logins.append((user, password))
        return FakeEngineConnection(self, engine)


for _name in METADATA_CALLS:
    setattr(FakeEngine, f"_{_name}", FakeEngine._metadata)


def _encode(name: str, mtype: int, seqid: int, result: Any) -> bytes:
    buf = TMemoryBuffer()
    proto = TBinaryProtocol(buf)
    proto.writeMessageBegin(name, mtype, seqid)
    result.write(proto)
    proto.writeMessageEnd()
    return bytes(buf.getvalue())


def frame(message: bytes) -> bytes:
    return struct.pack(">I", len(message)) + message


class FakeEngineConnection:
    """An EngineConnection to a FakeEngine in this process, failing the way BackendConnection does."""

    def __init__(self, fake: FakeEngine, engine: Engine) -> None:
        self.fake = fake
        self.engine = engine
        self.busy = False
        self.broken = False

    async def call(self, message: bytes) -> Reply:
        if self.broken:
            raise EngineError(f"the connection to engine {self.engine.name} was lost; reconnect to continue")
        self.busy = True
        try:
            await asyncio.sleep(0)  # a real engine answers later, never in the same step
            name = read_message_header(message).name
            if name in self.fake._die_on:
                self.fake._die_on.discard(name)
                self.fake.calls[name] += 1
                raise EngineError(f"engine {self.engine.name} at {self.engine.address} closed the connection")
            data = frame(self.fake.answer(message))
            if name == "GetOperationStatus" and _sleeping(self.fake):
                await asyncio.sleep(self.fake.long_poll_s)  # STS long-polls a running operation
        except BaseException:  # lost, or cancelled mid-call: the reply would arrive out of step
            self.broken = True
            raise
        self.busy = False
        return Reply(read_message_header(data, 4), data)

    def close(self) -> None:
        self.broken = True


def _sleeping(fake: FakeEngine) -> bool:
    _, req = fake.requests[-1]
    op = fake.operations.get(req.operationHandle.operationId.guid)
    return op is not None and op.state == State.RUNNING_STATE and op.polls_left == float("inf")


# -- on TCP, for benchmarks and tests that need a socket ------------------------------------------


async def serve_client(engine: FakeEngine, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        for _ in range(2):  # START "PLAIN", then the credentials
            _, length = struct.unpack(">BI", await reader.readexactly(5))
            payload = await reader.readexactly(length)
        _, user, password = payload.split(b"\x00")
        engine.logins.append((user.decode(), password.decode()))
        writer.write(b"\x05\x00\x00\x00\x00")
        while True:
            (length,) = struct.unpack(">I", await reader.readexactly(4))
            message = await reader.readexactly(length)
            if read_message_header(message).name in engine._die_on:
                engine._die_on.discard(read_message_header(message).name)
                return
            writer.write(frame(engine.answer(message)))
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def start(engine: FakeEngine, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    return await asyncio.start_server(lambda r, w: serve_client(engine, r, w), host, port, backlog=1024)


class FakeEngineThread:
    """The fake engine on TCP, on its own event loop thread (for tests whose gateway runs on another)."""

    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-engine", daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(start(engine), self._loop).result(10)
        self.port: int = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


async def main(port: int) -> None:
    server = await start(FakeEngine(polls_to_finish=0), port=port)
    print("ready", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
