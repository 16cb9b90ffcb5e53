"""What the gateway knows of TCLIService (Hive's service-rpc): field ids, handles, replies.

Field ids are Hive's wire contract; they appear only in this module. The gateway reads and writes
the messages it acts on through typed views over the decoded tree (`OpenSessionReq(req).username`),
so fields it does not know survive a re-encode untouched:

    TOpenSessionReq/Resp, TExecuteStatementReq/Resp, TGetOperationStatusResp, TFetchResultsReq,
    TStatus, the metadata requests (their schema/table names), TSessionHandle/TOperationHandle.

Every call's argument struct has the request at field 1; every reply struct has the response at
field 0; every response has its TStatus at field 1.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from adhoc.errors import AdhocError
from adhoc.protocol.thrift_binary import (
    BOOL,
    CALL,
    EXCEPTION,
    I32,
    LIST,
    REPLY,
    STRING,
    STRUCT,
    ListValue,
    Struct,
    encode_message,
)
from adhoc.protocol.thrift_views import (
    BoolField,
    I16Field,
    I32Field,
    I64Field,
    StringMapField,
    StructField,
    TextField,
    View,
)

# TProtocolVersion: HIVE_CLI_SERVICE_PROTOCOL_V1 = 0 ... V10 = 9, V11 = 10
PROTOCOL_V1 = 0
PROTOCOL_V6 = 5  # first version with columnar result sets
PROTOCOL_V10 = 9
MAX_PROTOCOL = PROTOCOL_V10  # the newest version whose replies the gateway can synthesise

# TOperationState
INITIALIZED_STATE = 0
PENDING_STATE = 7
FINISHED_STATE = 2
CANCELED_STATE = 3
CLOSED_STATE = 4
ERROR_STATE = 5
RUNNING_STATES = frozenset({0, 1, 7})  # TOperationState INITIALIZED, RUNNING, PENDING
# An operation in one of these states stays in it: a status reply saying so is final.
TERMINAL_STATES = frozenset({FINISHED_STATE, CANCELED_STATE, CLOSED_STATE, ERROR_STATE})

# TStatusCode
SUCCESS_STATUS = 0
SUCCESS_WITH_INFO_STATUS = 1
ERROR_STATUS = 3

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


def operation_handle_struct(handle: Handle, *, has_result_set: bool, operation_type: int = 0) -> Struct:
    return Struct().set(1, STRUCT, handle.to_struct()).set(2, I32, operation_type).set(3, BOOL, has_result_set)


# -- typed views (field descriptors in thrift_views) -------------------------------------------


class TStatus(View):
    code = I32Field(1)
    info_messages_field = 2
    sql_state = TextField(3)
    error_code = I32Field(4)
    error_message = TextField(5)

    @property
    def ok(self) -> bool:
        return self.code in (SUCCESS_STATUS, SUCCESS_WITH_INFO_STATUS)


class Response(View):
    status_struct = StructField(1)

    @property
    def status(self) -> TStatus:
        return TStatus(self.status_struct)

    @property
    def ok(self) -> bool:
        return self.status_struct is not None and self.status.ok


@dataclass(frozen=True, slots=True)
class HandleRef:
    """A session or operation handle: its identity, and the struct as the engine sent it (to send
    back for cancel/close, unknown fields and all)."""

    handle: Handle
    struct: Struct  # TSessionHandle or TOperationHandle

    @staticmethod
    def of(struct: Struct | None) -> HandleRef | None:
        handle = handle_from(struct.struct(1)) if struct is not None else None
        return HandleRef(handle, struct) if handle is not None and struct is not None else None


class OpenSessionReq(View):
    client_protocol = I32Field(1)
    username = TextField(2)
    password = TextField(3)
    configuration = StringMapField(4)


class OpenSessionResp(Response):
    server_protocol_version = I32Field(2)
    session_handle_struct = StructField(3)

    @property
    def session_handle(self) -> HandleRef | None:
        return HandleRef.of(self.session_handle_struct)


class ExecuteStatementReq(View):
    session_handle_struct = StructField(1)
    statement = TextField(2)
    conf_overlay = StringMapField(3)
    run_async = BoolField(4)


class OperationResp(Response):
    """The response of every call that creates an operation (ExecuteStatement, GetTables, ...)."""

    operation_handle_struct = StructField(2)

    @property
    def operation_handle(self) -> HandleRef | None:
        return HandleRef.of(self.operation_handle_struct)


class GetOperationStatusResp(Response):
    operation_state = I32Field(2)
    sql_state = TextField(3)
    error_code = I32Field(4)
    error_message = TextField(5)
    has_result_set = BoolField(9)


class FetchResultsReq(View):
    operation_handle_struct = StructField(1)
    orientation = I32Field(2)
    max_rows = I64Field(3)
    fetch_type = I16Field(4)


class FetchResultsResp(Response):
    has_more_rows = BoolField(2)
    results = StructField(3)


class GetResultSetMetadataResp(Response):
    schema = StructField(2)


class GetQueryIdResp(View):  # no status: its only field is the id
    query_id = TextField(1)


def session_handle_in(req: Struct) -> HandleRef | None:
    """The TSessionHandle a session call's request starts with."""
    return HandleRef.of(req.struct(1))


def operation_handle_in(req: Struct) -> HandleRef | None:
    """The TOperationHandle an operation call's request starts with."""
    return HandleRef.of(req.struct(1))


def new_handle(name: str, resp: Struct | None) -> HandleRef | None:
    """The handle a successful reply hands out: a session for OpenSession, an operation for the
    calls that create one; None for an error reply or a call that creates nothing."""
    if resp is None:
        return None
    if name == "OpenSession":
        session = OpenSessionResp(resp)
        return session.session_handle if session.ok else None
    if name in CREATES_OPERATION:
        op = OperationResp(resp)
        return op.operation_handle if op.ok else None
    return None


# Schema and table name fields of the metadata calls the policy checks: (schema, table) pairs.
_METADATA_TARGETS: dict[str, tuple[tuple[int, int | None], ...]] = {
    "GetSchemas": ((3, None),),
    "GetTables": ((3, 4),),
    "GetColumns": ((3, 4),),
    "GetFunctions": ((3, None),),
    "GetPrimaryKeys": ((3, 4),),
    "GetCrossReference": ((3, 4), (6, 7)),  # parent, then foreign
}


def metadata_targets(name: str, req: Struct) -> list[tuple[str | None, str | None]]:
    """The (schema, table) patterns a metadata call asks about; [] for calls that name none."""
    return [
        (req.text(schema), req.text(table) if table is not None else None)
        for schema, table in _METADATA_TARGETS.get(name, ())
    ]


def call(name: str, req: Struct, seqid: int = 0) -> bytes:
    """A whole CALL message with `req` as its request."""
    return encode_message(name, CALL, seqid, Struct().set(1, STRUCT, req))


def handle_call(name: str, handle: HandleRef, seqid: int = 0) -> bytes:
    """A call whose request is just a handle: CloseSession, GetOperationStatus, Cancel/CloseOperation."""
    return call(name, Struct().set(1, STRUCT, handle.struct), seqid)


def info_messages(status: Struct) -> list[str]:
    value = status.list(TStatus.info_messages_field)
    if not isinstance(value, ListValue):
        return []
    return [m.decode("utf-8", "replace") for m in value.items if isinstance(m, bytes)]


def with_info_messages(status: Struct, messages: list[str]) -> Struct:
    if messages:  # never an empty list: it makes Hive JDBC print a blank warning chain
        status.set(TStatus.info_messages_field, LIST, ListValue(STRING, [m.encode() for m in messages]))
    return status
