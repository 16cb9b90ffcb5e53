"""Where a Thrift binary message ends, found in a growing buffer without ever rescanning.

A NOSASL client sends bare messages: no length prefix, so the only way to know a message is whole
is to walk its structure. Decoding the whole buffer again on every read is quadratic (16 MB in
64 KB reads took a second); this scanner keeps its place instead, like h11's ReceiveBuffer:

    scanner = MessageEnd()
    end = scanner.scan(buffer)     # None: not whole yet (call again with the grown buffer)
    ...                            # end: the message is buffer[:end]; scanner.reset() for the next

It builds nothing, only skips: the message is decoded once, when whole. `work` counts the steps
taken (each consumes at least one byte), so tests can check the cost is linear in the bytes.
"""

from __future__ import annotations

import struct

from adhoc.errors import ProtocolError
from adhoc.protocol.thrift_binary import (
    BOOL,
    BYTE,
    DOUBLE,
    I16,
    I32,
    I64,
    LIST,
    MAP,
    MAX_DEPTH,
    SET,
    STOP,
    STRING,
    STRUCT,
    Incomplete,
    read_message_header,
)

_FIXED = {BOOL: 1, BYTE: 1, I16: 2, I32: 4, I64: 8, DOUBLE: 8}
_I32 = struct.Struct(">i")
_LIST = struct.Struct(">bi")
_MAP = struct.Struct(">bbi")

# Frames on the stack: what the scanner expects next at `_pos`.
_FIELDS = 0  # a struct's next field header, or STOP
_VALUE = 1  # one value of type `a`
_ITEMS = 2  # a list/set: `b` more values of type `a`
_PAIRS = 3  # a map: `c` more values, alternating key type `a` and value type `b`


class MessageEnd:
    __slots__ = ("_pos", "_stack", "work")

    def __init__(self) -> None:
        self._stack: list[list[int]] = []
        self._pos = 0
        self.work = 0

    def reset(self) -> None:
        self._stack, self._pos = [], 0

    def scan(self, buf: bytes | bytearray | memoryview) -> int | None:
        """The offset just past the message that starts at buf[0], or None if it is not whole yet."""
        if not self._stack:
            try:
                header = read_message_header(buf)
            except Incomplete:
                return None
            self.work += 1
            self._pos = header.body_offset
            self._stack.append([_FIELDS, 0, 0])
        return self._walk(buf)

    def _walk(self, buf: bytes | bytearray | memoryview) -> int | None:
        stack, pos, have = self._stack, self._pos, len(buf)
        try:
            while stack:
                self.work += 1
                frame = stack[-1]
                kind = frame[0]
                if kind == _FIELDS:
                    if pos >= have:
                        return None
                    ttype = buf[pos]
                    if ttype == STOP:
                        pos += 1
                        stack.pop()
                        continue
                    if pos + 3 > have:
                        return None
                    pos += 3
                    self._push(stack, ttype)
                elif kind == _ITEMS:
                    if frame[2] == 0:
                        stack.pop()
                        continue
                    frame[2] -= 1
                    self._push(stack, frame[1])
                elif kind == _PAIRS:
                    if frame[3] == 0:
                        stack.pop()
                        continue
                    frame[3] -= 1
                    self._push(stack, frame[1] if frame[3] % 2 else frame[2])
                else:  # one value
                    ttype = frame[1]
                    size = _FIXED.get(ttype)
                    if size is not None:
                        if pos + size > have:
                            return None
                        pos += size
                        stack.pop()
                    elif ttype == STRING:
                        if pos + 4 > have:
                            return None
                        (n,) = _I32.unpack_from(buf, pos)
                        if n < 0:
                            raise ProtocolError("negative Thrift string length")
                        if pos + 4 + n > have:
                            return None
                        pos += 4 + n
                        stack.pop()
                    elif ttype == STRUCT:
                        stack[-1] = [_FIELDS, 0, 0]
                    elif ttype in (LIST, SET):
                        if pos + 5 > have:
                            return None
                        etype, n = _LIST.unpack_from(buf, pos)
                        _check(n)
                        pos += 5
                        stack[-1] = [_ITEMS, etype, n]
                    elif ttype == MAP:
                        if pos + 6 > have:
                            return None
                        ktype, vtype, n = _MAP.unpack_from(buf, pos)
                        _check(n)
                        pos += 6
                        stack[-1] = [_PAIRS, ktype, vtype, 2 * n]
                    else:
                        raise ProtocolError(f"unknown Thrift type {ttype}")
        finally:
            self._pos = pos
        return pos

    @staticmethod
    def _push(stack: list[list[int]], ttype: int) -> None:
        if len(stack) > 2 * MAX_DEPTH:  # a value frame and a struct frame per level
            raise ProtocolError("Thrift struct nested too deeply")
        stack.append([_VALUE, ttype, 0])


def _check(n: int) -> None:
    if n < 0:
        raise ProtocolError("negative Thrift container size")
