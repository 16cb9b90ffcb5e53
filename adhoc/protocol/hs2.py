"""What the gateway knows of TCLIService (Hive's service-rpc): field ids, handles, replies.

Field ids are Hive's wire contract; only the ones the gateway reads or writes are named here.
Every call's argument struct has the request at field 1; every reply struct has the response at
field 0; every response has its TStatus at field 1.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from adhoc.errors import AdhocError
from adhoc.protocol.thrift_binary import (
    BOOL,
    EXCEPTION,
    I32,
    REPLY,
    STRING,
    STRUCT,
    MapValue,
    Struct,
    encode_message,
)

# TProtocolVersion: HIVE_CLI_SERVICE_PROTOCOL_V1 = 0 ... V10 = 9, V11 = 10
PROTOCOL_V1 = 0
PROTOCOL_V6 = 5  # first version with columnar result sets
PROTOCOL_V10 = 9
MAX_PROTOCOL = PROTOCOL_V10  # the newest version whose replies the gateway can synthesise

# TOperationState
FINISHED_STATE = 2
RUNNING_STATES = frozenset({0, 1, 7})  # TOperationState INITIALIZED, RUNNING, PENDING

# TApplicationException types
UNKNOWN_METHOD = 1

FETCH_TYPE_LOG = 1

# Calls whose request (field 1) starts with a TSessionHandle / TOperationHandle at its field 1.
SESSION_CALLS = frozenset(
    {
        "CloseSession", "GetInfo", "ExecuteStatement", "GetTypeInfo", "GetCatalogs", "GetSchemas",
        "GetTables", "GetTableTypes", "GetColumns", "GetFunctions", "GetPrimaryKeys",
        "GetCrossReference", "SetClientInfo",
    }
)  # fmt: skip
OPERATION_CALLS = frozenset(
    {
        "GetOperationStatus", "CancelOperation", "CloseOperation", "GetResultSetMetadata",
        "FetchResults", "GetQueryId",
    }
)  # fmt: skip
# Calls whose response carries a new TOperationHandle at field 2.
CREATES_OPERATION = frozenset(
    {
        "ExecuteStatement", "GetTypeInfo", "GetCatalogs", "GetSchemas", "GetTables", "GetTableTypes",
        "GetColumns", "GetFunctions", "GetPrimaryKeys", "GetCrossReference",
    }
)  # fmt: skip
# Delegation tokens would let a client act outside the gateway's view: always refused.
REFUSED_CALLS = frozenset({"GetDelegationToken", "CancelDelegationToken", "RenewDelegationToken"})
KNOWN_CALLS = SESSION_CALLS | OPERATION_CALLS | REFUSED_CALLS | {"OpenSession"}


@dataclass(frozen=True, slots=True)
class Handle:
    """A session or operation handle as the engine issued it: guid and secret, raw bytes."""

    guid: bytes
    secret: bytes

    @property
    def id(self) -> str:
        return str(uuid.UUID(bytes=self.guid)) if len(self.guid) == 16 else self.guid.hex()

    def to_struct(self) -> Struct:
        return Struct().set(1, STRING, self.guid).set(2, STRING, self.secret)

    @staticmethod
    def new() -> Handle:
        return Handle(uuid.uuid4().bytes, uuid.uuid4().bytes)


def handle_from(identifier: Struct | None) -> Handle | None:
    """THandleIdentifier -> Handle."""
    if identifier is None:
        return None
    guid, secret = identifier.bytes(1), identifier.bytes(2)
    if guid is None:
        return None
    return Handle(guid, secret or b"")


def request_of(args: Struct) -> Struct:
    req = args.struct(1)
    return req if req is not None else Struct()


def session_handle_of(req: Struct, fid: int = 1) -> Handle | None:
    """The THandleIdentifier inside a TSessionHandle at `fid`."""
    sh = req.struct(fid)
    return handle_from(sh.struct(1)) if sh is not None else None


def operation_handle_of(req: Struct, fid: int = 1) -> Handle | None:
    oh = req.struct(fid)
    return handle_from(oh.struct(1)) if oh is not None else None


def response_of(body: Struct) -> Struct | None:
    return body.struct(0)


def status_code_of(resp: Struct) -> int | None:
    status = resp.struct(1)
    return status.int(1) if status is not None else None


def status(code: int, *, sql_state: str = "", error_code: int = 0, message: str = "") -> Struct:
    s = Struct().set(1, I32, code)
    # infoMessages stays unset: an empty list makes Hive JDBC print a blank warning chain.
    if sql_state:
        s.set(3, STRING, sql_state.encode())
    if error_code:
        s.set(4, I32, error_code)
    if message:
        s.set(5, STRING, message.encode())
    return s


def success_status() -> Struct:
    return Struct().set(1, I32, 0)


def error_status(error: AdhocError) -> Struct:
    return status(error.status_code, sql_state=error.sql_state, error_code=error.error_code, message=error.message)


def reply(name: str, seqid: int, resp: Struct) -> bytes:
    return encode_message(name, REPLY, seqid, Struct().set(0, STRUCT, resp))


def error_reply(name: str, seqid: int, error: AdhocError, *, protocol: int = PROTOCOL_V1) -> bytes:
    """A normal REPLY whose TStatus says ERROR, with the fields clients insist on present."""
    resp = Struct().set(1, STRUCT, error_status(error))
    if name == "OpenSession":  # serverProtocolVersion is required
        resp.set(2, I32, protocol)
    elif name == "GetInfo":  # infoValue is a required union
        resp.set(2, STRUCT, Struct().set(1, STRING, b""))
    return reply(name, seqid, resp)


def application_exception(name: str, seqid: int, kind: int, message: str) -> bytes:
    body = Struct().set(1, STRING, message.encode()).set(2, I32, kind)
    return encode_message(name, EXCEPTION, seqid, body)


def string_map(items: dict[str, str]) -> MapValue:
    return MapValue(STRING, STRING, [(k.encode(), v.encode()) for k, v in items.items()])


def read_string_map(value: MapValue | None) -> dict[str, str]:
    if value is None:
        return {}
    out: dict[str, str] = {}
    for k, v in value.items:
        if isinstance(k, bytes) and isinstance(v, bytes):
            out[k.decode("utf-8", "replace")] = v.decode("utf-8", "replace")
    return out


def operation_handle_struct(handle: Handle, *, has_result_set: bool, operation_type: int = 0) -> Struct:
    return Struct().set(1, STRUCT, handle.to_struct()).set(2, I32, operation_type).set(3, BOOL, has_result_set)
