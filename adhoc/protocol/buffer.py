"""A byte buffer for framing: append at the end, consume from the front, never rescan."""

from __future__ import annotations

import struct

_U32 = struct.Struct(">I")
_STATUS_U32 = struct.Struct(">BI")


class ReceiveBuffer:
    __slots__ = ("_data", "_start")

    def __init__(self) -> None:
        self._data = bytearray()
        self._start = 0

    def __len__(self) -> int:
        return len(self._data) - self._start

    def feed(self, data: bytes) -> None:
        if self._start and self._start >= len(self._data) // 2:
            # Compact lazily so consuming many small frames stays linear.
            del self._data[: self._start]
            self._start = 0
        self._data += data

    def peek_u32(self, offset: int = 0) -> int | None:
        if len(self) < offset + 4:
            return None
        return int(_U32.unpack_from(self._data, self._start + offset)[0])

    def peek_status_u32(self) -> tuple[int, int] | None:
        if len(self) < 5:
            return None
        status, length = _STATUS_U32.unpack_from(self._data, self._start)
        return int(status), int(length)

    def first_byte(self) -> int | None:
        return self._data[self._start] if len(self) else None

    def take(self, n: int) -> bytes:
        with memoryview(self._data) as view:  # one copy, not a bytearray slice and then bytes of it
            out = view[self._start : self._start + n].tobytes()
        self._start += n
        if self._start >= len(self._data):
            # All consumed: let the memory go now, not at the next feed (an idle connection
            # would otherwise hold its last message, a whole result batch for a fetch).
            self._data = bytearray()
            self._start = 0
        return out

    def view(self) -> memoryview:
        return memoryview(self._data)[self._start :]

    def skip(self, n: int) -> None:
        self._start += n
