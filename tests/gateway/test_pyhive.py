"""pyhive (and SQLAlchemy on top of it) through the gateway, against a real Spark Thrift Server."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import sqlalchemy
from pyhive import exc, hive
from TCLIService import ttypes

from tests.gateway_harness import GatewayThread
from tests.sts import RunningSTS

DESC_COLUMNS = ["session_id", "user", "route", "engine", "app_id", "spark_ui_url", "logs_url", "queued_ms"]


def connect(gw: GatewayThread, user: str = "alice", **kw: object) -> hive.Connection:
    return hive.connect(gw.host, port=gw.port, username=user, **kw)


def test_select_returns_rows_and_types(gateway: GatewayThread) -> None:
    with connect(gateway) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1 AS one, 'x' AS s, CAST(2.5 AS DOUBLE) AS d, CAST(NULL AS STRING) AS n")
        assert cur.fetchall() == [(1, "x", 2.5, None)]
        assert [(c[0], c[1]) for c in cur.description] == [
            ("one", "INT_TYPE"),
            ("s", "STRING_TYPE"),
            ("d", "DOUBLE_TYPE"),
            ("n", "STRING_TYPE"),
        ]


def test_ddl_insert_and_read_back(gateway: GatewayThread) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    with connect(gateway) as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {table} (id INT, name STRING) USING parquet")
        cur.execute(f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b')")
        cur.execute(f"SELECT id, name FROM {table} ORDER BY id")
        assert cur.fetchall() == [(1, "a"), (2, "b")]
        cur.execute(f"DROP TABLE {table}")


def test_large_fetch_arrives_whole(gateway: GatewayThread) -> None:
    with connect(gateway) as conn:
        cur = conn.cursor()
        cur.arraysize = 10_000
        cur.execute("SELECT id, CAST(id AS STRING) AS s FROM range(200000)")
        rows = cur.fetchall()
    assert len(rows) == 200_000
    assert rows[0] == (0, "0") and rows[-1] == (199_999, "199999")
    assert sum(r[0] for r in rows) == 199_999 * 200_000 // 2


def test_sql_error_reaches_the_client_with_its_state(gateway: GatewayThread) -> None:
    with connect(gateway) as conn:
        cur = conn.cursor()
        with pytest.raises(exc.OperationalError) as err:
            cur.execute("SELECT * FROM no_such_table_here")
        assert "no_such_table_here" in str(err.value)
        assert "42P01" in str(err.value)
        cur.execute("SELECT 2")  # the session survives the error
        assert cur.fetchall() == [(2,)]


def test_a_failed_sync_statement_fails_as_it_does_on_the_engine(gateway: GatewayThread, sts: RunningSTS) -> None:
    """The gateway runs sync statements async and polls: the client still gets the engine's own
    message and stack (infoMessages), as a direct sync call returns them."""
    statuses = []
    for host, port in ((gateway.host, gateway.port), ("127.0.0.1", sts.port)):
        with hive.connect(host, port=port, username="erin") as conn:
            with pytest.raises(exc.OperationalError) as err:
                conn.cursor().execute("SELECT * FROM no_such_table_i9_sync")
            statuses.append(err.value.args[0].status)
    through, direct = statuses
    assert through.errorMessage == direct.errorMessage and through.sqlState == direct.sqlState == "42P01"
    assert (
        through.infoMessages and through.infoMessages[0].rsplit(":", 2)[0] == direct.infoMessages[0].rsplit(":", 2)[0]
    )


def test_adhoc_desc_session_describes_this_session(gateway: GatewayThread) -> None:
    with connect(gateway, user="bob") as conn:
        cur = conn.cursor()
        cur.execute("adhoc   desc session ;")
        rows = cur.fetchall()
        assert [d[0] for d in cur.description] == DESC_COLUMNS
        assert [d[1] for d in cur.description][-1] == "BIGINT_TYPE"
        assert len(rows) == 1
        row = dict(zip(DESC_COLUMNS, rows[0], strict=True))
        assert row["user"] == "bob" and row["engine"] == "sts-test" and row["route"] == "local"
        assert str(uuid.UUID(row["session_id"])) == row["session_id"]
        assert gateway.ctx.sessions.get(row["session_id"]).user == "bob"


def test_operation_log_starts_with_adhoc_lines_once(gateway: GatewayThread) -> None:
    with connect(gateway) as conn:
        cur = conn.cursor()
        cur.execute("SELECT id FROM range(10)", async_=True)
        while cur.poll().operationState in (
            ttypes.TOperationState.INITIALIZED_STATE,
            ttypes.TOperationState.RUNNING_STATE,
        ):
            time.sleep(0.05)
        logs = cur.fetch_logs()
        assert len(cur.fetchall()) == 10
        assert logs and logs[0].startswith("[adhoc] session ")
        assert "runs on engine sts-test" in logs[0]
        assert any(line.startswith("[adhoc] Spark UI:") for line in logs)
        assert cur.fetch_logs() == []  # shown once per operation, not again
        rewind = ttypes.TFetchResultsReq(
            operationHandle=cur._operationHandle,
            orientation=ttypes.TFetchOrientation.FETCH_FIRST,
            maxRows=100,
            fetchType=1,
        )
        again = conn.client.FetchResults(rewind).results.columns[0].stringVal.values
        assert again[: len(logs)] == logs  # ...unless the client rewinds the log


def test_async_query_can_be_cancelled(gateway: GatewayThread) -> None:
    with connect(gateway) as conn:
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM range(100000000000) a", async_=True)
        time.sleep(1.0)
        cur.cancel()
        deadline = time.monotonic() + 20
        state = cur.poll().operationState
        while state not in (ttypes.TOperationState.CANCELED_STATE, ttypes.TOperationState.CLOSED_STATE):
            assert time.monotonic() < deadline, f"still in state {state}"
            time.sleep(0.2)
            state = cur.poll().operationState


def test_many_concurrent_clients(gateway: GatewayThread) -> None:
    errors: list[BaseException] = []
    results: list[int] = []

    def client(n: int) -> None:
        try:
            with connect(gateway, user=f"user{n}") as conn:
                cur = conn.cursor()
                for i in range(5):
                    cur.execute(f"SELECT {n} * 100 + {i}")
                    results.append(cur.fetchall()[0][0])
        except BaseException as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sorted(results) == sorted(n * 100 + i for n in range(20) for i in range(5))


def test_sqlalchemy_hive_url(gateway: GatewayThread) -> None:
    engine = sqlalchemy.create_engine(f"hive://carol@{gateway.host}:{gateway.port}/default")
    with engine.connect() as conn:
        value = conn.execute(sqlalchemy.text("SELECT 40 + 2 AS answer")).scalar()
    assert value == 42
    engine.dispose()


def test_metadata_calls_pass_through(gateway: GatewayThread) -> None:
    with connect(gateway) as conn:
        req = ttypes.TGetSchemasReq(sessionHandle=conn._sessionHandle)
        resp = conn.client.GetSchemas(req)
        assert resp.status.statusCode == ttypes.TStatusCode.SUCCESS_STATUS
        fetch = conn.client.FetchResults(
            ttypes.TFetchResultsReq(operationHandle=resp.operationHandle, orientation=0, maxRows=100)
        )
        schemas = fetch.results.columns[0].stringVal.values
        assert "default" in schemas


def test_pyhive_nosasl(gateway: GatewayThread) -> None:
    with connect(gateway, user="nora", auth="NOSASL") as conn:
        cur = conn.cursor()
        cur.execute("SELECT current_user(), 6 * 7")
        assert cur.fetchall() == [("nora", 42)]
