"""Thrift binary protocol, generic and schema-free: bytes <-> field trees.

The gateway decodes only the messages it must look at, and when it changes one (an OpenSession
with injected conf, a log fetch with `[adhoc]` lines) it re-encodes the tree it decoded, so fields it
does not know survive untouched. Strings stay `bytes`: handle GUIDs and secrets are binary and
must not be UTF-8 decoded on the way through.

Hostile input costs at most a ProtocolError: nesting depth and container sizes are bounded by
the bytes actually present, so a 20-byte message cannot ask for a billion-element list.
"""

from __future__ import annotations

import builtins
import struct
from dataclasses import dataclass, field
from typing import Union

from adhoc.errors import ProtocolError

STOP, BOOL, BYTE, DOUBLE, I16, I32, I64, STRING, STRUCT, MAP, SET, LIST = 0, 2, 3, 4, 6, 8, 10, 11, 12, 13, 14, 15
CALL, REPLY, EXCEPTION, ONEWAY = 1, 2, 3, 4

VERSION_1 = 0x80010000
VERSION_MASK = 0xFFFF0000
MAX_DEPTH = 64

_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_DOUBLE = struct.Struct(">d")
_FIELD_HEADER = struct.Struct(">bh")
_LIST_HEADER = struct.Struct(">bi")
_MAP_HEADER = struct.Struct(">bbi")
_MIN_WIRE_SIZE = {BOOL: 1, BYTE: 1, DOUBLE: 8, I16: 2, I32: 4, I64: 8, STRING: 4, STRUCT: 1, MAP: 6, SET: 5, LIST: 5}


FieldId = int


class Incomplete(ProtocolError):
    """The buffer ends inside a message: wait for more bytes (only NOSASL streams see this)."""

    def __init__(self) -> None:
        super().__init__("message is incomplete")


@dataclass(slots=True)
class ListValue:
    etype: int
    items: list[Value]


@dataclass(slots=True)
class MapValue:
    ktype: int
    vtype: int
    items: list[tuple[Value, Value]]


@dataclass(slots=True)
class Struct:
    """A decoded struct: field id -> (thrift type, value), in wire order."""

    fields: dict[FieldId, tuple[builtins.int, Value]] = field(default_factory=dict)

    def get(self, fid: FieldId) -> Value | None:
        entry = self.fields.get(fid)
        return None if entry is None else entry[1]

    def struct(self, fid: FieldId) -> Struct | None:
        value = self.get(fid)
        return value if isinstance(value, Struct) else None

    def int(self, fid: FieldId) -> builtins.int | None:
        value = self.get(fid)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def bool(self, fid: FieldId) -> builtins.bool | None:
        value = self.get(fid)
        return value if isinstance(value, bool) else None

    def bytes(self, fid: FieldId) -> builtins.bytes | None:
        value = self.get(fid)
        return value if isinstance(value, bytes) else None

    def text(self, fid: FieldId) -> str | None:
        value = self.bytes(fid)
        return None if value is None else value.decode("utf-8", "replace")

    def list(self, fid: FieldId) -> ListValue | None:
        value = self.get(fid)
        return value if isinstance(value, ListValue) else None

    def map(self, fid: FieldId) -> MapValue | None:
        value = self.get(fid)
        return value if isinstance(value, MapValue) else None

    def set(self, fid: FieldId, ttype: builtins.int, value: Value) -> Struct:
        self.fields[fid] = (ttype, value)
        return self


Value = Union[bool, int, float, bytes, Struct, ListValue, MapValue]  # noqa: UP007 (recursive alias)


@dataclass(frozen=True, slots=True)
class MessageHeader:
    name: str
    type: int
    seqid: int
    body_offset: int  # where the message's struct starts in the buffer


def read_message_header(buf: bytes | bytearray | memoryview, pos: int = 0) -> MessageHeader:
    try:
        (word,) = _I32.unpack_from(buf, pos)
        if word < 0:  # strict: version | type, then name, then seqid
            if (word & VERSION_MASK) != VERSION_1:
                raise ProtocolError(f"bad Thrift protocol version 0x{word & 0xFFFFFFFF:08x}")
            mtype = word & 0xFF
            (nlen,) = _I32.unpack_from(buf, pos + 4)
            if nlen < 0 or nlen > 1024:
                raise ProtocolError("bad Thrift method name length")
            start = pos + 8
            if start + nlen + 4 > len(buf):
                raise Incomplete()
            name = bytes(buf[start : start + nlen])
            (seqid,) = _I32.unpack_from(buf, start + nlen)
            body = start + nlen + 4
        else:  # old non-strict clients: name length, name, type byte, seqid
            if word > 1024:
                raise ProtocolError("not a Thrift message (bad method name length)")
            start = pos + 4
            if start + word + 5 > len(buf):
                raise Incomplete()
            name = bytes(buf[start : start + word])
            mtype = buf[start + word]
            (seqid,) = _I32.unpack_from(buf, start + word + 1)
            body = start + word + 5
    except struct.error:
        raise Incomplete() from None
    if mtype not in (CALL, REPLY, EXCEPTION, ONEWAY):
        raise ProtocolError(f"bad Thrift message type {mtype}")
    try:
        method = name.decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError("Thrift method name is not ASCII") from None
    return MessageHeader(method, mtype, seqid, body)


def read_struct(buf: bytes | memoryview, pos: int, depth: int = 0) -> tuple[Struct, int]:
    """Decode a struct starting at `pos`; returns it and the offset just past it."""
    if depth > MAX_DEPTH:
        raise ProtocolError("Thrift struct nested too deeply")
    fields: dict[int, tuple[int, Value]] = {}
    end = len(buf)
    try:
        while True:
            ttype = buf[pos]
            if ttype == STOP:
                return Struct(fields), pos + 1
            _, fid = _FIELD_HEADER.unpack_from(buf, pos)
            value, pos = _read_value(buf, pos + 3, ttype, depth, end)
            fields[fid] = (ttype, value)
    except (IndexError, struct.error):
        raise Incomplete() from None


def _read_value(buf: bytes | memoryview, pos: int, ttype: int, depth: int, end: int) -> tuple[Value, int]:
    if ttype == STRING:
        (n,) = _I32.unpack_from(buf, pos)
        pos += 4
        if n < 0:
            raise ProtocolError("negative Thrift string length")
        if pos + n > end:
            raise Incomplete()
        return bytes(buf[pos : pos + n]), pos + n
    if ttype == I32:
        return _I32.unpack_from(buf, pos)[0], pos + 4
    if ttype == STRUCT:
        return read_struct(buf, pos, depth + 1)
    if ttype == I64:
        return _I64.unpack_from(buf, pos)[0], pos + 8
    if ttype == BOOL:
        return buf[pos] != 0, pos + 1
    if ttype == I16:
        return _I16.unpack_from(buf, pos)[0], pos + 2
    if ttype == BYTE:
        return _I8.unpack_from(buf, pos)[0], pos + 1
    if ttype == DOUBLE:
        return _DOUBLE.unpack_from(buf, pos)[0], pos + 8
    if ttype in (LIST, SET):
        etype, n = _LIST_HEADER.unpack_from(buf, pos)
        pos += 5
        _check_count(n, etype, pos, end)
        items: list[Value] = []
        for _ in range(n):
            item, pos = _read_value(buf, pos, etype, depth + 1, end)
            items.append(item)
        return ListValue(etype, items), pos
    if ttype == MAP:
        ktype, vtype, n = _MAP_HEADER.unpack_from(buf, pos)
        pos += 6
        _check_count(n, ktype, pos, end)
        pairs: list[tuple[Value, Value]] = []
        for _ in range(n):
            k, pos = _read_value(buf, pos, ktype, depth + 1, end)
            v, pos = _read_value(buf, pos, vtype, depth + 1, end)
            pairs.append((k, v))
        return MapValue(ktype, vtype, pairs), pos
    raise ProtocolError(f"unknown Thrift type {ttype}")


def _check_count(n: int, etype: int, pos: int, end: int) -> None:
    if n < 0:
        raise ProtocolError("negative Thrift container size")
    size = _MIN_WIRE_SIZE.get(etype)
    if size is None:
        if n:
            raise ProtocolError(f"unknown Thrift type {etype}")
        return
    if n * size > end - pos:
        raise Incomplete()


def read_message(buf: bytes | memoryview, pos: int = 0) -> tuple[MessageHeader, Struct, int]:
    """One whole message: header, body struct, and the offset just past it."""
    header = read_message_header(buf, pos)
    body, end = read_struct(buf, header.body_offset)
    return header, body, end


# -- encoding ---------------------------------------------------------------------------------


def encode_message(name: str, mtype: int, seqid: int, body: Struct) -> bytes:
    out = bytearray()
    raw_name = name.encode("ascii")
    out += _I32.pack((VERSION_1 | mtype) - (1 << 32))
    out += _I32.pack(len(raw_name))
    out += raw_name
    out += _I32.pack(seqid)
    _write_struct(out, body)
    return bytes(out)


def encode_struct(body: Struct) -> bytes:
    out = bytearray()
    _write_struct(out, body)
    return bytes(out)


def _write_struct(out: bytearray, s: Struct) -> None:
    for fid, (ttype, value) in s.fields.items():
        out += _FIELD_HEADER.pack(ttype, fid)
        _write_value(out, ttype, value)
    out.append(STOP)


def _write_value(out: bytearray, ttype: int, value: Value) -> None:
    if ttype == STRING:
        assert isinstance(value, bytes)
        out += _I32.pack(len(value))
        out += value
    elif ttype == STRUCT:
        assert isinstance(value, Struct)
        _write_struct(out, value)
    elif ttype == BOOL:
        out.append(1 if value else 0)
    elif ttype in (BYTE, I16, I32, I64, DOUBLE):
        packer = {BYTE: _I8, I16: _I16, I32: _I32, I64: _I64, DOUBLE: _DOUBLE}[ttype]
        out += packer.pack(value)
    elif ttype in (LIST, SET):
        assert isinstance(value, ListValue)
        out += _LIST_HEADER.pack(value.etype, len(value.items))
        for item in value.items:
            _write_value(out, value.etype, item)
    elif ttype == MAP:
        assert isinstance(value, MapValue)
        out += _MAP_HEADER.pack(value.ktype, value.vtype, len(value.items))
        for k, v in value.items:
            _write_value(out, value.ktype, k)
            _write_value(out, value.vtype, v)
    else:
        raise ProtocolError(f"cannot encode Thrift type {ttype}")


class StoredReply:
    """A reply kept to answer the same call again: the same bytes with each new call's seqid."""

    __slots__ = ("_framed_head", "_head", "_tail")

    def __init__(self, message: bytes) -> None:
        at = read_message_header(message).body_offset - 4
        self._head, self._tail = message[:at], message[at + 4 :]
        self._framed_head = _I32.pack(len(message)) + self._head  # the SASL transport's length prefix

    def answer(self, seqid: int) -> bytes:
        return b"".join((self._head, _I32.pack(seqid), self._tail))

    def answer_framed(self, seqid: int) -> bytes:
        """The answer with its SASL-transport frame header, in one piece for one write."""
        return b"".join((self._framed_head, _I32.pack(seqid), self._tail))
