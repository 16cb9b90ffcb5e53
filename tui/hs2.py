"""The HiveServer2 adapter: any HS2 endpoint (adhoc, Kyuubi, a Spark Thrift Server) through pyhive.

pyhive is not thread-safe and a HiveServer2 connection answers one call at a time, so every call
on a connection holds its lock; the app's workers may call from any thread.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from typing import Any

import pyarrow as pa
from pyhive import exc, hive
from TCLIService import ttypes
from thrift.transport.TTransport import TTransportException

from tui.adapter import (
    Column,
    ConnectError,
    Connection,
    Cursor,
    LoginRefused,
    QueryError,
    QueryStatus,
    SessionInfo,
    State,
)
from tui.arrow import rows_to_table

_RUNNING = {0, 1, 7}  # INITIALIZED, RUNNING, PENDING
_CANCELED = {3, 4}  # CANCELED, CLOSED
_OK = {0, 1}  # SUCCESS_STATUS, SUCCESS_WITH_INFO_STATUS


# thrift logs every failed connect attempt on its own; the client reports it once, plainly.
logging.getLogger("thrift").setLevel(logging.CRITICAL)

# Java's wrapping around the message: "org.apache.hive...HiveSQLException: Error running query:
# [CLASS] org.apache.spark.sql.AnalysisException: [CLASS] The table ..." reads "[CLASS] The table ...".
_NOISE = re.compile(r"^(?:org\.apache\.hive\.service\.cli\.HiveSQLException: )?(?:Error running query: )?")
_JAVA_PREFIX = re.compile(r"^(?:\[[A-Z0-9_.]+\] )?(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error): ")


def clean_message(message: str) -> str:
    """The part of an engine's error a person reads: no Java class prefix, no stack trace."""
    head = _NOISE.sub("", message.split("\n\tat ", 1)[0].split("\nCaused by:", 1)[0].strip())
    while (stripped := _JAVA_PREFIX.sub("", head, count=1).lstrip()) != head:
        head = stripped
    return head


def query_error(error: Exception) -> QueryError:
    """pyhive raises OperationalError(response): dig out the server's message and sqlState."""
    response = error.args[0] if error.args else None
    status = getattr(response, "status", None)
    if status is not None:
        return QueryError(clean_message(status.errorMessage or str(error)), status.sqlState or "")
    if response is not None and getattr(response, "errorMessage", None):
        return QueryError(clean_message(response.errorMessage), response.sqlState or "")
    return QueryError(str(error))


class HS2Cursor(Cursor):
    def __init__(self, conn: HS2Connection, cursor: hive.Cursor) -> None:
        self._conn = conn
        self._cursor = cursor
        self._done = False

    def poll(self) -> QueryStatus:
        with self._conn.lock:
            try:
                resp = self._cursor.poll(get_progress_update=True)
            except exc.Error as e:
                return QueryStatus(State.ERROR, error=query_error(e))
            except (TTransportException, OSError) as e:
                return QueryStatus(State.ERROR, error=self._conn.broke(e))
        state = resp.operationState
        progress = None
        update = getattr(resp, "progressUpdateResponse", None)
        if update is not None and update.progressedPercentage is not None:
            progress = float(update.progressedPercentage)
        if state in _RUNNING:
            name = ttypes.TOperationState._VALUES_TO_NAMES.get(state, "")
            return QueryStatus(State.RUNNING, progress, detail=name.removesuffix("_STATE"))
        if state == ttypes.TOperationState.FINISHED_STATE:
            return QueryStatus(State.FINISHED, 1.0)
        if state in _CANCELED:
            return QueryStatus(State.CANCELED)
        message = clean_message(resp.errorMessage or "the query failed")
        return QueryStatus(State.ERROR, error=QueryError(message, resp.sqlState or ""))

    def logs(self) -> list[str]:
        """The log lines written since the last call. Not pyhive's fetch_logs: that first asks the
        old GetLog call (a wasted round trip on every poll: Spark's and Hive 2+ servers lack it) and
        drops every line it read when a later page fails (the engine may not have the operation's
        log at that moment), losing the `[adhoc]` lines the first page carried."""
        lines: list[str] = []
        with self._conn.lock:
            handle = getattr(self._cursor, "_operationHandle", None)
            if handle is None:
                return lines
            client = self._cursor._connection.client
            try:
                while True:
                    req = ttypes.TFetchResultsReq(operationHandle=handle, maxRows=1000, fetchType=1,
                                                  orientation=ttypes.TFetchOrientation.FETCH_NEXT)  # fmt: skip
                    response = client.FetchResults(req)
                    if response.status.statusCode not in _OK or response.results is None:
                        break
                    columns = response.results.columns or []
                    new = list(columns[0].stringVal.values) if columns and columns[0].stringVal else []
                    new += [str(row.colVals[0].stringVal.value) for row in response.results.rows or []]
                    if not new:
                        break
                    lines += new
            except (TTransportException, OSError, EOFError) as e:
                self._conn.broke(e)
        return lines

    def columns(self) -> list[Column]:
        with self._conn.lock:
            description = self._cursor.description or []
        return [Column(d[0], str(d[1]).removesuffix("_TYPE")) for d in description]

    def fetch(self, max_rows: int) -> pa.Table | None:
        if self._done:
            return None
        columns = self.columns()
        if not columns:
            self._done = True
            return None
        with self._conn.lock:
            try:
                rows = self._cursor.fetchmany(max_rows)
            except exc.Error as e:
                raise query_error(e) from None
            except (TTransportException, OSError) as e:
                raise self._conn.broke(e) from None
        if len(rows) < max_rows:
            self._done = True
        if not rows and self._done:
            return None
        return rows_to_table([c.name for c in columns], [c.type for c in columns], rows)

    def cancel(self) -> None:
        with self._conn.lock:
            try:
                self._cursor.cancel()
            except (exc.Error, TTransportException):
                pass

    def close(self) -> None:
        with self._conn.lock:
            try:
                self._cursor.close()
            except (exc.Error, TTransportException):
                pass


# HiveServer2 holds a status call up to 5 s while the statement runs (long polling). One HS2
# connection carries one call at a time, so that delayed every log line, every progress figure and
# Escape's cancel by up to 5 s. The wait is a session setting: ask for short polls.
SESSION_CONF = {"set:hiveconf:hive.server2.long.polling.timeout": "200ms"}


class HS2Connection(Connection):
    def __init__(self, host: str, port: int, user: str, password: str | None = None,
                 configuration: dict[str, str] | None = None) -> None:  # fmt: skip
        self.host, self.port, self.user = host, port, user
        self.lock = threading.RLock()
        self._password = password  # kept to reconnect after the server went away; never shown
        self._configuration = {**SESSION_CONF, **(configuration or {})}
        self.broken = False  # the transport failed: the next statement opens a new connection
        self._conn = self._open()

    def _open(self) -> hive.Connection:
        host, port, password = self.host, self.port, self._password
        try:
            return hive.connect(
                host, port=port, username=self.user, password=password or None,
                auth="CUSTOM" if password else "NONE", configuration=self._configuration,
            )  # fmt: skip
        except TTransportException as e:
            refusal = _sasl_refusal(str(e))
            if refusal is not None:
                raise LoginRefused(f"{host}:{port} refused the login: {refusal}") from None
            raise ConnectError(f"cannot connect to {host}:{port}: {e}") from None
        except exc.Error as e:
            raise ConnectError(f"{host}:{port} refused the session: {query_error(e)}") from None
        except OSError as e:
            raise ConnectError(f"cannot connect to {host}:{port}: {e}") from None

    def _usable(self) -> hive.Connection:
        """The connection, opened again (a new session) if the last one broke: a gateway restart
        costs the statement that met it, not the rest of the user's work."""
        if self.broken:
            try:
                self._conn = self._open()
            except ConnectError as e:
                raise QueryError(f"{e} (will try again with the next statement)") from None
            self.broken = False
            self.generation += 1
        return self._conn

    def broke(self, error: Exception) -> QueryError:
        self.broken = True
        return QueryError(f"the connection to {self.host}:{self.port} broke ({error or 'closed'}); "
                          "the next statement reconnects")  # fmt: skip

    def execute(self, sql: str) -> Cursor:
        with self.lock:
            cursor = self._usable().cursor()
            try:
                cursor.execute(sql, async_=True)
            except exc.Error as e:
                raise query_error(e) from None
            except (TTransportException, OSError) as e:
                raise self.broke(e) from None
        return HS2Cursor(self, cursor)

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.lock:
            cursor = self._usable().cursor()
            try:
                cursor.execute(sql)
                return list(cursor.fetchall())
            except exc.Error as e:
                raise query_error(e) from None
            except (TTransportException, OSError) as e:
                raise self.broke(e) from None
            finally:
                with contextlib.suppress(exc.Error, TTransportException, OSError):
                    cursor.close()

    def databases(self) -> list[str]:
        return sorted(str(r[0]) for r in self._rows("SHOW DATABASES"))

    def tables(self, database: str) -> list[str]:
        return sorted(str(r[1]) for r in self._rows(f"SHOW TABLES IN {quote(database)}"))

    def columns(self, database: str, table: str) -> list[Column]:
        out = []
        for row in self._rows(f"DESCRIBE {quote(database)}.{quote(table)}"):
            name = str(row[0] or "")
            if not name or name.startswith("#"):
                break  # partition and detail sections follow
            out.append(Column(name, str(row[1]).upper()))
        return out

    def session_info(self) -> SessionInfo:
        info = SessionInfo(user=self.user, server=f"{self.host}:{self.port}")
        try:
            with self.lock:
                cursor = self._usable().cursor()
                cursor.execute("ADHOC DESC SESSION")
                names = [d[0] for d in cursor.description or []]
                rows = cursor.fetchall()
                cursor.close()
        except (exc.Error, TTransportException, OSError, QueryError):
            return info  # not an adhoc gateway, or not reachable now
        if rows:
            row = dict(zip(names, rows[0], strict=False))
            info.session_id = str(row.pop("session_id", "") or "")
            info.user = str(row.pop("user", "") or self.user)
            for key in ("route", "engine", "app_id", "spark_ui_url", "logs_url"):
                setattr(info, key, str(row.pop(key, "") or ""))
            queued = row.pop("queued_ms", None)
            info.queued_ms = int(queued) if queued is not None else None
            cost = row.pop("cost", None)
            info.cost = float(cost) if cost is not None else None
            info.extra = {k: str(v) for k, v in row.items()}
        return info

    def close(self) -> None:
        with self.lock:
            try:
                self._conn.close()
            except (exc.Error, TTransportException, OSError):
                pass


def quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def _sasl_refusal(message: str) -> str | None:
    """The server's reason when thrift_sasl reports a refused handshake as
    'Bad status: 3 (b"reason")' (3 = BAD, 4 = ERROR); None for any other transport error."""
    match = re.match(r"""Bad status: [34] \(b(['"])(.*)\1\)$""", message, re.DOTALL)
    return match.group(2) if match else None
