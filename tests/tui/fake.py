"""A scripted in-memory database behind the TUI's adapter seam, for Pilot tests."""

from __future__ import annotations

import threading
import time

import pyarrow as pa

from tui.adapter import Column, Connection, Cursor, QueryError, QueryStatus, SessionInfo, State


class FakeCursor(Cursor):
    def __init__(self, sql: str, table: pa.Table | None, error: QueryError | None, run_s: float) -> None:
        self.sql, self.table, self.error = sql, table, error
        self.started = time.monotonic()
        self.run_s = run_s
        self.cancelled = threading.Event()
        self.offset = 0
        self.closed = False
        self._logs = [f"[adhoc] session fake runs on engine fake-engine: {sql[:20]}", "engine: stage 1/1"]

    def poll(self) -> QueryStatus:
        if self.cancelled.is_set():
            return QueryStatus(State.CANCELED)
        elapsed = time.monotonic() - self.started
        if elapsed < self.run_s:
            return QueryStatus(State.RUNNING, progress=elapsed / self.run_s, detail="RUNNING_STATE")
        if self.error is not None:
            return QueryStatus(State.ERROR, error=self.error)
        return QueryStatus(State.FINISHED, 1.0)

    def logs(self) -> list[str]:
        out, self._logs = self._logs, []
        return out

    def columns(self) -> list[Column]:
        if self.table is None:
            return []
        return [Column(f.name, "BIGINT" if pa.types.is_integer(f.type) else "STRING") for f in self.table.schema]

    def fetch(self, max_rows: int) -> pa.Table | None:
        if self.table is None or self.offset >= self.table.num_rows:
            return None
        part = self.table.slice(self.offset, max_rows)
        self.offset += part.num_rows
        return part

    def cancel(self) -> None:
        self.cancelled.set()

    def close(self) -> None:
        self.closed = True


class FakeConnection(Connection):
    """SELECT n → n rows; FAIL → an error; DENY → a permission refusal; SLOW → runs until cancelled."""

    def __init__(self) -> None:
        self.executed: list[str] = []
        self.cursors: list[FakeCursor] = []

    def execute(self, sql: str) -> Cursor:
        self.executed.append(sql)
        upper = sql.strip().upper()
        if upper.startswith("DENY"):
            raise QueryError("permission denied: alice may not read hr.salaries (no rule grants read on it)", "42000")
        error = (
            QueryError("[TABLE_OR_VIEW_NOT_FOUND] boom: 'UnresolvedRelation [nope], [], false", "42P01")
            if upper.startswith("FAIL")
            else None
        )
        table = None
        if upper.startswith("SELECT"):
            n = int(upper.split()[1]) if upper.split()[1:] and upper.split()[1].isdigit() else 1
            table = pa.table({"id": pa.array(range(n), pa.int64()), "name": [f"row {i}" for i in range(n)]})
        cursor = FakeCursor(sql, table, error, 60.0 if upper.startswith("SLOW") else 0.05)
        self.cursors.append(cursor)
        return cursor

    def databases(self) -> list[str]:
        return ["default", "sales"]

    def tables(self, database: str) -> list[str]:
        return ["orders", "customers"] if database == "sales" else ["events"]

    def columns(self, database: str, table: str) -> list[Column]:
        if table == "events":
            return [Column("id", "BIGINT"), Column("event_time", "TIMESTAMP")]
        return [Column("id", "BIGINT"), Column("amount", "DOUBLE")]

    def session_info(self) -> SessionInfo:
        return SessionInfo(user="alice", server="fake:10009", session_id="0f0f0f0f-aaaa-bbbb-cccc-123456789abc",
                           route="local", engine="fake-engine", spark_ui_url="http://spark-ui.example/1",
                           queued_ms=0)  # fmt: skip

    def close(self) -> None:
        pass
