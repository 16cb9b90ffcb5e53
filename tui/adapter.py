"""The seam between the terminal client and a database (after Harlequin's adapter).

    connection = adapter.connect()
    cursor = connection.execute(sql)       # starts the statement, returns at once
    cursor.poll() -> QueryStatus           # RUNNING / FINISHED / ERROR / CANCELED, with progress
    cursor.logs() -> new log lines         # the `[adhoc]` lines come first through an adhoc gateway
    cursor.fetch(n) -> pyarrow.Table | None
    cursor.cancel()

Implementations: tui.hs2 (any HiveServer2 endpoint, through pyhive) and tui.fake (for tests).
Calls block: the app runs them in worker threads.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field

import pyarrow as pa


class QueryError(Exception):
    def __init__(self, message: str, sql_state: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.sql_state = sql_state

    @property
    def is_permission_denied(self) -> bool:
        return self.sql_state == "42000"

    @property
    def reason(self) -> str:
        """The message without a leading "permission denied: " where the title already says so."""
        prefix = "permission denied: "
        if self.is_permission_denied and self.message.lower().startswith(prefix):
            return self.message[len(prefix) :]
        return self.message

    def __str__(self) -> str:
        return f"[{self.sql_state}] {self.message}" if self.sql_state else self.message


class ConnectError(Exception):
    pass


class LoginRefused(ConnectError):
    """The server refused the user's credentials (a password is missing or wrong)."""


class State(enum.Enum):
    RUNNING = "running"
    FINISHED = "finished"
    ERROR = "error"
    CANCELED = "canceled"


@dataclass(frozen=True)
class QueryStatus:
    state: State
    progress: float | None = None  # 0..1 when the engine reports it
    detail: str = ""
    error: QueryError | None = None


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # the engine's type name, e.g. "INT", "STRING"


@dataclass
class SessionInfo:
    """What `ADHOC DESC SESSION` says; fields stay empty against a plain HiveServer2."""

    user: str
    server: str
    session_id: str = ""
    route: str = ""
    engine: str = ""
    app_id: str = ""
    spark_ui_url: str = ""
    logs_url: str = ""
    queued_ms: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Cursor(abc.ABC):
    @abc.abstractmethod
    def poll(self) -> QueryStatus: ...

    @abc.abstractmethod
    def logs(self) -> list[str]: ...

    @abc.abstractmethod
    def columns(self) -> list[Column]: ...

    @abc.abstractmethod
    def fetch(self, max_rows: int) -> pa.Table | None:
        """Up to max_rows more rows; None once the result is exhausted."""

    @abc.abstractmethod
    def cancel(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...


class Connection(abc.ABC):
    # Bumped each time the connection had to be opened again (a new session on the server):
    # the app re-reads the session panel when it changes.
    generation: int = 0

    @abc.abstractmethod
    def execute(self, sql: str) -> Cursor: ...

    @abc.abstractmethod
    def databases(self) -> list[str]: ...

    @abc.abstractmethod
    def tables(self, database: str) -> list[str]: ...

    @abc.abstractmethod
    def columns(self, database: str, table: str) -> list[Column]: ...

    @abc.abstractmethod
    def session_info(self) -> SessionInfo: ...

    @abc.abstractmethod
    def close(self) -> None: ...
