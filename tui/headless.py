"""`adhoc-sql -e SQL`, `-f FILE` or piped stdin: run the statements, print the results, exit 0/1."""

from __future__ import annotations

import sys
import time
from typing import TextIO

import pyarrow as pa

from tui.adapter import Connection, QueryError, State
from tui.statements import split

FETCH_ROWS = 10_000


def run_statements(conn: Connection, sql: str, fmt: str, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    for statement in split(sql):
        try:
            table = run_one(conn, statement)
        except QueryError as e:
            kind = "permission denied" if e.is_permission_denied else "error"
            print(f"adhoc-sql: {kind} [{e.sql_state or 'HY000'}]: {e.reason}", file=err)
            return 1
        if table is not None:
            from tui.output import write_result

            write_result(table, fmt, out)
    return 0


def run_one(conn: Connection, statement: str) -> pa.Table | None:
    cursor = conn.execute(statement)
    try:
        delay = 0.01
        while (status := cursor.poll()).state is State.RUNNING:
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        if status.state is State.ERROR:
            raise status.error or QueryError("the query failed")
        if status.state is State.CANCELED:
            raise QueryError("the query was cancelled")
        if not cursor.columns():
            return None
        parts = []
        while (part := cursor.fetch(FETCH_ROWS)) is not None:
            parts.append(part)
            if part.num_rows < FETCH_ROWS:
                break
        if not parts:
            return None
        return pa.concat_tables(parts)
    finally:
        cursor.close()
