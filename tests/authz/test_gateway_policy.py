"""Permissions as clients see them: refusals in beeline and pyhive, and the engine never asked."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyhive import exc, hive
from TCLIService import ttypes

from adhoc.config import AuditConfig, PolicyConfig
from adhoc.errors import PermissionDenied
from tests.authz.corpus import POLICY
from tests.gateway.test_beeline import beeline
from tests.gateway_harness import GatewayThread, gateway_config
from tests.hs2_raw import RawClient
from tests.sts import RunningSTS


@pytest.fixture(scope="module")
def guarded(sts: RunningSTS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayThread, Path]]:
    tmp = Path(tmp_path_factory.mktemp("guarded"))
    (tmp / "policy.toml").write_text(POLICY + '\n[[rules]]\nprincipals = ["user:dan"]\nread = ["default.*"]\n'
                                     'write = ["default.*"]\n')  # fmt: skip
    config = gateway_config(sts.address)
    config = dataclasses.replace(
        config, policy=PolicyConfig(file=str(tmp / "policy.toml")), audit=AuditConfig(file=str(tmp / "audit.jsonl"))
    )
    gw = GatewayThread(config)
    yield gw, tmp / "audit.jsonl"
    gw.stop()


def test_pyhive_refusal_names_table_and_state(guarded: tuple[GatewayThread, Path]) -> None:
    gw, _ = guarded
    with hive.connect(gw.host, port=gw.port, username="alice") as conn:
        cur = conn.cursor()
        with pytest.raises(exc.OperationalError) as err:
            cur.execute("SELECT * FROM hr.salaries")
        status = err.value.args[0].status
        assert status.sqlState == "42000" and status.errorCode == 50003
        assert "alice may not read hr.salaries" in status.errorMessage
        cur.execute("SELECT 1 + 1")
        assert cur.fetchall() == [(2,)]


def test_adhoc_sql_says_permission_denied_once(guarded: tuple[GatewayThread, Path]) -> None:
    gw, _ = guarded
    cmd = [sys.executable, "-m", "tui", "--host", gw.host, "--port", str(gw.port), "--user", "alice",
           "-e", "SELECT * FROM hr.salaries"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.startswith("adhoc-sql: permission denied [42000]: alice may not read hr.salaries")
    assert out.stderr.lower().count("permission denied") == 1


def test_permission_denied_messages_say_it_once() -> None:
    assert PermissionDenied("permission denied: x").message == "permission denied: x"
    assert PermissionDenied("unknown route 'mars'").message == "permission denied: unknown route 'mars'"


def test_beeline_refusal(guarded: tuple[GatewayThread, Path]) -> None:
    gw, _ = guarded
    out = beeline(gw, "-n", "alice", "-e", "ADD JAR /tmp/evil.jar;")
    assert out.returncode != 0
    assert (
        "Error: permission denied: ADD JAR/FILE/ARCHIVE is not allowed for non-admin users (state=42000,code=50003)"
        in (out.stdout + out.stderr)
    )


def test_the_engine_never_sees_a_refused_statement(guarded: tuple[GatewayThread, Path], sts: RunningSTS) -> None:
    gw, _ = guarded
    table = f"default.never_{uuid.uuid4().hex[:8]}"
    with hive.connect(gw.host, port=gw.port, username="alice") as conn:
        with pytest.raises(exc.OperationalError, match="may not write"):
            conn.cursor().execute(f"CREATE TABLE {table} (id INT) USING parquet")
    with hive.connect(gw.host, port=gw.port, username="dan") as conn:  # dan may write default.*
        cur = conn.cursor()
        cur.execute(f"SHOW TABLES IN default LIKE '{table.split('.')[1]}'")
        assert cur.fetchall() == []


def test_max_sessions_is_enforced_at_open_session(guarded: tuple[GatewayThread, Path]) -> None:
    gw, _ = guarded
    first = hive.connect(gw.host, port=gw.port, username="bob")
    second = hive.connect(gw.host, port=gw.port, username="bob")
    try:
        with pytest.raises(exc.OperationalError, match=r"max_sessions = 2"):
            hive.connect(gw.host, port=gw.port, username="bob")
    finally:
        first.close()
        second.close()
    hive.connect(gw.host, port=gw.port, username="bob").close()  # a closed session frees its place


def test_users_without_a_rule_cannot_open_a_session(guarded: tuple[GatewayThread, Path]) -> None:
    gw, _ = guarded
    with pytest.raises(exc.OperationalError, match="grants anything to mallory"):
        hive.connect(gw.host, port=gw.port, username="mallory")


def test_column_listing_of_an_unreadable_table_is_refused(guarded: tuple[GatewayThread, Path]) -> None:
    gw, _ = guarded
    with hive.connect(gw.host, port=gw.port, username="alice") as conn:
        cols = conn.client.GetColumns(
            ttypes.TGetColumnsReq(sessionHandle=conn._sessionHandle, schemaName="hr", tableName="salaries")
        )
        assert cols.status.statusCode == ttypes.TStatusCode.ERROR_STATUS and cols.status.sqlState == "42000"
        tables = conn.client.GetTables(ttypes.TGetTablesReq(sessionHandle=conn._sessionHandle, schemaName="%"))
        assert tables.status.statusCode == ttypes.TStatusCode.SUCCESS_STATUS


def test_audit_lines(guarded: tuple[GatewayThread, Path]) -> None:
    gw, audit = guarded
    with hive.connect(gw.host, port=gw.port, username="alice") as conn, pytest.raises(exc.OperationalError):
        conn.cursor().execute("SELECT * FROM hr.audit_probe")
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    denial = next(e for e in events if e["event"] == "statement" and "hr.audit_probe" in e["tables_read"])
    assert denial["decision"] == "deny" and denial["user"] == "alice" and "may not read" in denial["reason"]
    assert denial["session"] and denial["route"] == "local" and len(denial["digest"]) == 16
    assert "SELECT" not in json.dumps(denial)  # a digest, never the statement text
    assert any(e["event"] == "login" and e["user"] == "alice" for e in events)


def test_the_jdbc_url_database_is_where_names_resolve(guarded: tuple[GatewayThread, Path], sts: RunningSTS) -> None:
    """jdbc:hive2://host/hr sends use:database=hr; `salaries` then means hr.salaries, not default.*."""
    from tests.hs2_raw import RawClient

    with hive.connect(sts.host, port=sts.port, username="setup") as direct:
        direct.cursor().execute("CREATE DATABASE IF NOT EXISTS hr")
    gw, _ = guarded
    client = RawClient(gw.host, gw.port)
    try:
        client.sasl_login("dan")  # dan may read and write default.*
        session = client.open_session("dan", **{"use:database": "hr"}).sessionHandle
        stmt = client.call(
            "ExecuteStatement", ttypes.TExecuteStatementReq(sessionHandle=session, statement="SELECT * FROM salaries")
        )
        assert stmt.status.sqlState == "42000"
        assert "dan may not read hr.salaries" in stmt.status.errorMessage
    finally:
        client.close()


def _wide_union(n: int, last_table: str) -> str:
    parts = [f"SELECT {i} AS n, 'x{i}' AS s FROM default.t{i % 50}" for i in range(n)]
    return " UNION ALL ".join([*parts, f"SELECT 0, 'y' FROM {last_table}"])


def test_oversized_statement_is_refused_with_the_limit(guarded: tuple[GatewayThread, Path]) -> None:
    gw, _ = guarded
    huge = _wide_union(30_000, "default.t0")  # about 1.5 MB
    with hive.connect(gw.host, port=gw.port, username="dan") as conn:
        cur = conn.cursor()
        with pytest.raises(exc.OperationalError) as err:
            cur.execute(huge)
        status = err.value.args[0].status
        assert status.sqlState == "42000"
        assert "analyses at most 1,048,576 ([policy] max_statement_bytes)" in status.errorMessage


def test_a_long_analysis_does_not_stall_other_clients(guarded: tuple[GatewayThread, Path]) -> None:
    gw, _ = guarded
    big = _wide_union(12_000, "hr.salaries")  # ~600 KB: about a second of analysis, then refused
    with hive.connect(gw.host, port=gw.port, username="dan") as other:
        quick = other.cursor()
        finished: list[float] = []
        span: dict[str, float] = {}

        def run_big() -> None:
            with hive.connect(gw.host, port=gw.port, username="dan") as conn:
                span["start"] = time.monotonic()
                with contextlib.suppress(exc.OperationalError):
                    conn.cursor().execute(big)
                span["end"] = time.monotonic()

        worker = threading.Thread(target=run_big)
        worker.start()
        while worker.is_alive():
            quick.execute("ADHOC DESC SESSION")  # answered by the gateway itself: its loop must be free
            quick.fetchall()
            finished.append(time.monotonic())
        worker.join()
    during = [t for t in finished if span["start"] < t < span["end"]]
    assert len(during) >= 2, f"no other client was answered during the {span['end'] - span['start']:.2f} s analysis"


def test_substituted_variables_cannot_smuggle_sql(guarded: tuple[GatewayThread, Path]) -> None:
    gw, _ = guarded
    with hive.connect(gw.host, port=gw.port, username="alice") as conn:
        cur = conn.cursor()
        cur.execute("SET x = (SELECT max(pay) FROM hr.salaries)")  # a value, harmless on its own
        with pytest.raises(exc.OperationalError, match=r"variable substitution \$\{...\} is not allowed"):
            cur.execute("SELECT ${x}")  # Spark would run SELECT (SELECT max(pay) FROM hr.salaries)


@pytest.mark.parametrize(
    ("conf", "reason"),
    [
        ({"set:hiveconf:spark.yarn.queue": "root.prod"}, "alice may not SET spark.yarn.queue"),
        ({"spark.sql.catalog.mine": "org.example.Catalog"}, "alice may not SET spark.sql.catalog.mine"),
        ({"set:hiveconf:hive.server2.proxy.user": "carol"}, "hive.server2.proxy.user is set by the gateway"),
    ],
)
def test_session_conf_is_checked_like_set(guarded: tuple[GatewayThread, Path], conf: dict[str, str],
                                          reason: str) -> None:  # fmt: skip
    gw, _ = guarded
    with pytest.raises(exc.OperationalError, match=reason):
        hive.connect(gw.host, port=gw.port, username="alice", configuration=conf)
    with hive.connect(gw.host, port=gw.port, username="alice",
                      configuration={"set:hiveconf:spark.sql.shuffle.partitions": "7"}) as conn:  # fmt: skip
        cur = conn.cursor()
        cur.execute("SET spark.sql.shuffle.partitions")
        assert cur.fetchall() == [("spark.sql.shuffle.partitions", "7")]


def test_no_client_picks_its_engine_user_even_without_a_policy(gateway: GatewayThread) -> None:
    for key in ("hive.server2.proxy.user", "set:hiveconf:kyuubi.session.proxy.user"):
        with pytest.raises(exc.OperationalError, match="is set by the gateway"):
            hive.connect(gateway.host, port=gateway.port, username="mallory", configuration={key: "carol"})


@pytest.mark.parametrize("key", ["spark.yarn.queue", "set:hiveconf:spark.yarn.queue"])
def test_statement_conf_overlay_is_checked_like_set(guarded: tuple[GatewayThread, Path], key: str) -> None:
    gw, _ = guarded
    client = RawClient(gw.host, gw.port)
    try:
        client.sasl_login("alice")
        session = client.open_session("alice").sessionHandle
        req = ttypes.TExecuteStatementReq(sessionHandle=session, statement="SELECT 1", confOverlay={key: "root.prod"})
        status = client.call("ExecuteStatement", req).status
        assert status.statusCode == ttypes.TStatusCode.ERROR_STATUS
        assert "alice may not SET spark.yarn.queue" in status.errorMessage
    finally:
        client.close()


@pytest.mark.parametrize("run_async", [True, False], ids=["async", "sync"])
def test_a_use_the_engine_refused_does_not_move_name_resolution(
    guarded: tuple[GatewayThread, Path], sts: RunningSTS, run_async: bool
) -> None:
    """alice may read sales.*; `USE sales` fails on an engine without that database. Had the
    gateway moved anyway, `secret` would be checked as sales.secret and read as default.secret."""
    with hive.connect(sts.host, port=sts.port, username="setup") as direct:
        cur = direct.cursor()
        cur.execute("DROP DATABASE IF EXISTS sales CASCADE")
        cur.execute("CREATE TABLE IF NOT EXISTS default.secret (x INT) USING parquet")
    gw, _ = guarded
    with hive.connect(gw.host, port=gw.port, username="alice") as conn:
        cur = conn.cursor()
        with pytest.raises(exc.OperationalError, match=r"SCHEMA_NOT_FOUND|not found"):
            cur.execute("USE sales", async_=run_async)
            cur.fetchall()  # the async case would see the failure here, if not at execute
        with pytest.raises(exc.OperationalError, match=r"alice may not read default\.secret"):
            cur.execute("SELECT * FROM secret")
