"""Recognise a GetOperationStatus call from its bytes alone, without decoding it.

Hive JDBC 2.3 asks for an operation's status around every row it reads, and once the operation
has ended the gateway answers from the engine's stored reply. Decoding each call into a field tree
costs more than the rest of answering it, so this matches the exact bytes every Thrift binary
client writes for the call (strict header, fields in id order):

    80 01 00 01 | 00 00 00 12 "GetOperationStatus" | seqid:i32
    0c 0001 (req) 0c 0001 (operationHandle) 0c 0001 (operationId)
        0b 0001 len=16 guid | 0b 0002 len=16 secret | 00
      08 0002 operationType:i32 | 02 0003 hasResultSet:bool | [04 0004 modifiedRowCount:double] | 00
    [02 0002 getProgressUpdate:bool] | 00 (req) | 00 (args)

and nothing after it. Anything else (another layout, a second message in the frame, a
truncated one) is `None`: the caller takes the general path, which decodes and gives the same
answer, so this only ever decides how fast, never what.
"""

from __future__ import annotations

import struct

_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")

_HEADER = b"\x80\x01\x00\x01" + _U32.pack(18) + b"GetOperationStatus"
_SEQID_AT = len(_HEADER)
_TO_GUID = b"\x0c\x00\x01" * 3 + b"\x0b\x00\x01" + _U32.pack(16)
_GUID_AT = _SEQID_AT + 4 + len(_TO_GUID)
_TO_SECRET = b"\x0b\x00\x02" + _U32.pack(16)
_SECRET_END = _GUID_AT + 16 + len(_TO_SECRET) + 16
# end of operationId, operationType (i32), hasResultSet (bool): fixed sizes, values not needed
_FIXED_TAIL = len(b"\x00") + 3 + 4 + 3 + 1
_MODIFIED_ROW_COUNT = b"\x04\x00\x04"
_PROGRESS_UPDATE = b"\x02\x00\x02"
_SHORTEST = _SECRET_END + _FIXED_TAIL + 3


def status_call(data: bytes, base: int = 0) -> tuple[int, bytes] | None:
    """(seqid, operation guid) when `data[base:]` is exactly one GetOperationStatus call, else None."""
    # startswith(prefix, offset) compares in place: no slice is copied on this per-row path
    if len(data) - base < _SHORTEST or not data.startswith(_HEADER, base):
        return None
    if not data.startswith(_TO_GUID, base + _SEQID_AT + 4) or not data.startswith(_TO_SECRET, base + _GUID_AT + 16):
        return None
    at = base + _SECRET_END
    if data[at] != 0 or not data.startswith(b"\x08\x00\x02", at + 1) or not data.startswith(b"\x02\x00\x03", at + 8):
        return None
    at += _FIXED_TAIL
    if data.startswith(_MODIFIED_ROW_COUNT, at):
        at += 3 + 8
    if at >= len(data) or data[at] != 0:  # end of operationHandle
        return None
    at += 1
    if data.startswith(_PROGRESS_UPDATE, at):
        at += 3 + 1
    if at + 2 != len(data) or data[at] != 0 or data[at + 1] != 0:  # end of req, end of args, end of bytes
        return None
    guid_at = base + _GUID_AT
    return _I32.unpack_from(data, base + _SEQID_AT)[0], data[guid_at : guid_at + 16]


def framed_status_call(data: bytes) -> tuple[int, bytes] | None:
    """The same for one whole SASL-transport frame (`length:u32be | message`) and nothing more."""
    if len(data) < 4 or _U32.unpack_from(data)[0] != len(data) - 4:
        return None
    return status_call(data, 4)
