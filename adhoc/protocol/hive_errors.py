"""A Java exception as Hive sends it in a TStatus, rebuilt from the text GetOperationStatus gives.

A statement that fails synchronously comes back with `errorMessage` = the exception's message and
`infoMessages` = its stack in Hive's own format (HiveSQLException.toString), which Hive JDBC turns
back into the server-side cause and pyhive prints. When the gateway runs a client's sync statement
async and polls for it, the engine reports the same exception as `StringUtils.stringifyException`
text instead (class, message, `\tat` frames, `Caused by:` ...). `status_fields` turns that text
back into the message and the Hive lines, so the client sees what a direct sync call shows.

Hive's lines, per exception in the cause chain (the cause's frames shared with its parent left
out, as Java prints `... N more`):

    *<class>:<message>:<number of frames>:<index of the last frame listed>
    <class>:<method>:<file>:<line>          (one per listed frame)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FRAME = re.compile(r"^\tat (?:[\w.$]+/)*(?P<cls>[^\s(]+)\.(?P<method>[^.\s(]+)\((?P<where>[^)]*)\)$")
_MORE = re.compile(r"^\t\.\.\. (\d+) more$")
_HEAD = re.compile(r"^(?P<cls>[a-zA-Z_$][\w$]*(?:\.[a-zA-Z_$][\w$]*)+)(?:: (?P<msg>.*))?$", re.DOTALL)


@dataclass
class _Throwable:
    cls: str
    message: str
    frames: list[str] = field(default_factory=list)
    more: int = 0


def status_fields(text: str) -> tuple[str, list[str]] | None:
    """(errorMessage, infoMessages) for a stringified Java exception; None if it is not one."""
    chain = _parse(text)
    if not chain:
        return None
    lines: list[str] = []
    for ex in chain:
        total = len(ex.frames) + ex.more
        lines.append(f"*{ex.cls}:{ex.message}:{total}:{len(ex.frames) - 1}")
        lines += ex.frames
    return chain[0].message, lines


def _parse(text: str) -> list[_Throwable]:
    chain: list[_Throwable] = []
    head: list[str] = []  # the lines of a `class: message` that may span several lines
    current: _Throwable | None = None
    for line in text.rstrip("\n").split("\n"):
        if line.startswith("\tat "):
            if head:
                current = _start(chain, head)
                head = []
                if current is None:
                    return []
            frame = _FRAME.match(line)
            if current is None or frame is None:
                return []
            current.frames.append(_frame(frame))
        elif (more := _MORE.match(line)) and current is not None and not head:
            current.more = int(more.group(1))
        elif line.startswith("Caused by: ") and not head:
            head = [line[len("Caused by: ") :]]
        elif line.startswith("\t"):  # Suppressed: sections and the like: not in Hive's lines
            return [] if current is None else chain
        else:
            if current is not None and not head:
                return []
            head.append(line)
    if head and _start(chain, head) is None:  # an exception without frames
        return []
    return chain


def _start(chain: list[_Throwable], head: list[str]) -> _Throwable | None:
    match = _HEAD.match("\n".join(head))
    if match is None:
        return None
    ex = _Throwable(match.group("cls"), match.group("msg") or "null")
    chain.append(ex)
    return ex


def _frame(match: re.Match[str]) -> str:
    where = match.group("where")
    if where == "Native Method":
        file, line = "", "-2"
    elif ":" in where:
        file, line = where.rsplit(":", 1)
    elif where in ("Unknown Source", ""):
        file, line = "", "-1"
    else:
        file, line = where, "-1"
    return f"{match.group('cls')}:{match.group('method')}:{file}:{line}"
