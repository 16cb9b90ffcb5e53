"""Typed fields over the schema-free Thrift tree: `OpenSessionReq(req).username` instead of
`req.text(2)`. A view wraps a decoded `Struct` and reads and writes it in place, so fields the
view does not name survive a re-encode untouched. The HS2 messages themselves are in hs2.py.

    class OpenSessionReq(View):
        username = TextField(2)       # str | None; assigning None removes the field
"""

from __future__ import annotations

from adhoc.protocol.thrift_binary import BOOL, I16, I32, I64, MAP, STRING, STRUCT, MapValue, Struct


class View:
    """A typed window on a decoded struct; writes go to the same tree."""

    __slots__ = ("struct",)

    def __init__(self, struct: Struct | None = None) -> None:
        self.struct = struct if struct is not None else Struct()


class _Field:
    def __init__(self, fid: int) -> None:
        self.fid = fid


class I32Field(_Field):
    ttype = I32

    def __get__(self, view: View, owner: type) -> int | None:
        return view.struct.int(self.fid)

    def __set__(self, view: View, value: int | None) -> None:
        _put(view, self.fid, self.ttype, value)


class I16Field(I32Field):
    ttype = I16


class I64Field(I32Field):
    ttype = I64


class BoolField(_Field):
    def __get__(self, view: View, owner: type) -> bool | None:
        return view.struct.bool(self.fid)

    def __set__(self, view: View, value: bool | None) -> None:
        _put(view, self.fid, BOOL, value)


class TextField(_Field):
    """A Thrift string read as UTF-8 text (handles and secrets are binary: use the Struct)."""

    def __get__(self, view: View, owner: type) -> str | None:
        return view.struct.text(self.fid)

    def __set__(self, view: View, value: str | None) -> None:
        _put(view, self.fid, STRING, None if value is None else value.encode())


class StringMapField(_Field):
    def __get__(self, view: View, owner: type) -> dict[str, str]:
        return read_string_map(view.struct.map(self.fid))

    def __set__(self, view: View, value: dict[str, str]) -> None:
        _put(view, self.fid, MAP, string_map(value))


class StructField(_Field):
    def __get__(self, view: View, owner: type) -> Struct | None:
        return view.struct.struct(self.fid)

    def __set__(self, view: View, value: Struct | None) -> None:
        _put(view, self.fid, STRUCT, value)


def _put(view: View, fid: int, ttype: int, value: object) -> None:
    if value is None:
        view.struct.fields.pop(fid, None)
    else:
        view.struct.set(fid, ttype, value)  # type: ignore[arg-type]


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
