"""The holes of issue 8 through real clients (pyhive, beeline), a real gateway and the real STS.

Databases have unique names (the STS is shared): alice may read and write `mine`, nothing in `hr`.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyhive import exc, hive
from TCLIService import ttypes

from adhoc.config import PolicyConfig
from tests.gateway.test_beeline import beeline
from tests.gateway_harness import GatewayThread, gateway_config
from tests.hs2_raw import RawClient
from tests.sts import RunningSTS


@dataclass(frozen=True)
class Setup:
    gw: GatewayThread
    sts: RunningSTS
    hr: str
    mine: str

    def alice(self, **conf: str) -> hive.Connection:
        return hive.connect(self.gw.host, port=self.gw.port, username="alice", configuration=conf or None)

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        """Straight from the engine, not through the gateway."""
        with hive.connect(self.sts.host, port=self.sts.port, username="setup") as conn:
            cur = conn.cursor()
            cur.execute(sql)
            return list(cur.fetchall())


@pytest.fixture(scope="module")
def setup(sts: RunningSTS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    suffix = uuid.uuid4().hex[:8]
    hr, mine = f"i8hr_{suffix}", f"i8mine_{suffix}"
    with hive.connect(sts.host, port=sts.port, username="setup") as conn:
        cur = conn.cursor()
        for sql in (f"CREATE DATABASE {hr}", f"CREATE DATABASE {mine}",
                    f"CREATE TABLE {hr}.salaries (id INT, pay INT) USING parquet",
                    f"INSERT INTO {hr}.salaries VALUES (1, 100)",
                    f"CREATE TABLE {mine}.t (id INT) USING parquet"):  # fmt: skip
            cur.execute(sql)
    tmp = Path(tmp_path_factory.mktemp("holes"))
    (tmp / "policy.toml").write_text(
        f'[[rules]]\nprincipals = ["user:alice"]\nread = ["{mine}.*"]\nwrite = ["{mine}.*"]\n'
        '[[rules]]\nprincipals = ["user:carol"]\nadmin = true\n'
    )
    config = dataclasses.replace(gateway_config(sts.address), policy=PolicyConfig(file=str(tmp / "policy.toml")))
    gw = GatewayThread(config)
    yield Setup(gw, sts, hr, mine)
    gw.stop()
    with hive.connect(sts.host, port=sts.port, username="setup") as conn:
        for db in (hr, mine):
            conn.cursor().execute(f"DROP DATABASE IF EXISTS {db} CASCADE")


def refusal(cur: hive.Cursor, sql: str) -> str:
    with pytest.raises(exc.OperationalError) as err:
        cur.execute(sql)
    status = err.value.args[0].status
    assert status.sqlState == "42000", status
    return str(status.errorMessage)


def test_script_transforms_are_refused_in_pyhive(setup: Setup) -> None:
    with setup.alice() as conn:
        cur = conn.cursor()
        for sql in (f"SELECT TRANSFORM(id) USING 'cat' AS (x) FROM {setup.mine}.t",
                    f"FROM {setup.mine}.t SELECT TRANSFORM(id) USING 'id'",
                    f"FROM {setup.mine}.t MAP id USING 'cat'",
                    f"FROM {setup.mine}.t REDUCE id USING 'cat' AS (x)"):  # fmt: skip
            assert "script transform" in refusal(cur, sql)
        cur.execute(f"SELECT count(*) FROM {setup.mine}.t")
        assert cur.fetchall() == [(0,)]


def test_identifier_targets_are_resolved_in_pyhive(setup: Setup) -> None:
    hr = setup.hr
    with setup.alice() as conn:
        cur = conn.cursor()
        for sql, what in [(f"INSERT INTO IDENTIFIER('{hr}.salaries') VALUES (2, 999)", "write"),
                          (f"TRUNCATE TABLE IDENTIFIER('{hr}.salaries')", "write"),
                          (f"ALTER TABLE IDENTIFIER('{hr}.salaries') SET TBLPROPERTIES ('owner' = 'alice')", "write"),
                          (f"DESCRIBE IDENTIFIER('{hr}.salaries')", "read"),
                          (f"SHOW TBLPROPERTIES IDENTIFIER('{hr}.salaries')", "read"),
                          (f"CACHE TABLE IDENTIFIER('{hr}.salaries')", "read")]:  # fmt: skip
            reason = refusal(cur, sql)
            assert f"alice may not {what} {hr}.salaries" in reason, reason
        cur.execute(f"INSERT INTO IDENTIFIER('{setup.mine}.t') VALUES (7)")  # resolved, not refused
        cur.execute(f"SELECT * FROM IDENTIFIER('{setup.mine}.t')")
        assert cur.fetchall() == [(7,)]
    assert setup.rows(f"SELECT * FROM {hr}.salaries") == [(1, 100)]
    assert ("owner", "alice") not in setup.rows(f"SHOW TBLPROPERTIES {hr}.salaries")


@pytest.mark.parametrize("use", ["USE IDENTIFIER('{hr}')", "USE NAMESPACE {hr}", "USE SCHEMA {hr}",
                                 "USE spark_catalog.{hr}"])  # fmt: skip
def test_every_use_moves_the_gateway_with_the_engine(setup: Setup, use: str) -> None:
    with setup.alice() as conn:
        cur = conn.cursor()
        cur.execute(use.format(hr=setup.hr))
        cur.execute("SELECT current_database()")
        assert cur.fetchall() == [(setup.hr,)]
        reason = refusal(cur, "SELECT * FROM salaries")
        assert f"alice may not read {setup.hr}.salaries" in reason
        assert "namespace" not in reason


def test_use_and_identifier_in_beeline(setup: Setup) -> None:
    out = beeline(setup.gw, "-n", "alice", "-e",
                  f"USE NAMESPACE {setup.hr}; SELECT * FROM salaries;")  # fmt: skip
    assert f"alice may not read {setup.hr}.salaries" in out.stdout + out.stderr
    out = beeline(setup.gw, "-n", "alice", "-e",
                  f"INSERT INTO IDENTIFIER('{setup.hr}.salaries') VALUES (3, 3);")  # fmt: skip
    assert f"alice may not write {setup.hr}.salaries (no rule" in out.stdout + out.stderr
    assert "identifier" not in (out.stdout + out.stderr).split("may not write")[1].split("\n")[0]


@pytest.mark.parametrize(
    ("conf", "reason"),
    [
        ({"set:spark.sql.catalog.evil": "org.apache.spark.sql.execution.datasources.v2.jdbc.JDBCTableCatalog"},
         "alice may not SET spark.sql.catalog.evil"),
        ({"set:spark.hadoop.fs.defaultFS": "file:///"}, "alice may not SET spark.hadoop.fs.defaultFS"),
        ({"set:hivevar:spark.sql.defaultCatalog": "evil"}, "alice may not SET spark.sql.defaultCatalog"),
        ({"spark.sql.defaultCatalog": "evil"}, "alice may not SET spark.sql.defaultCatalog"),
        ({"set: hiveconf:spark.sql.caseSensitive": "true"}, "alice may not SET spark.sql.caseSensitive"),
        ({"set:system:i8.test.probe": "1"}, "JVM-wide system property"),
        ({"set: system:i8.test.probe": "2"}, "JVM-wide system property"),
        ({"set:metaconf:hive.metastore.try.direct.sql": "true"}, "shared metastore"),
        ({"set:env:HOME": "/"}, "not a setting form"),
        ({"hivevar:x": "1"}, "not a setting form"),
        ({"use:database": "other_catalog.hr"}, "cannot follow USE"),
        ({"use:catalog": "evil"}, "catalog 'evil' is not covered"),
    ],
)  # fmt: skip
def test_every_session_conf_key_form_is_checked(setup: Setup, conf: dict[str, str], reason: str) -> None:
    # (harmless values: should a regression let one through, the shared engine keeps working)
    with pytest.raises(exc.OperationalError, match=reason.replace("(", r"\(")):
        setup.alice(**conf)


def test_session_conf_that_is_fine_still_reaches_the_engine(setup: Setup) -> None:
    with setup.alice(**{"set:spark.sql.shuffle.partitions": "5", "set:hivevar:spark.sql.session.timeZone": "UTC",
                        "set:hiveconf:adhoc.route": "local"}) as conn:  # fmt: skip
        cur = conn.cursor()
        cur.execute("SET spark.sql.shuffle.partitions")
        assert cur.fetchall() == [("spark.sql.shuffle.partitions", "5")]


def test_use_database_follows_the_use_state_machine(setup: Setup) -> None:
    """Spark runs `USE <use:database>`; pyhive runs its own USE after it, so a raw client shows it."""
    client = RawClient(setup.gw.host, setup.gw.port)
    try:
        client.sasl_login("alice")
        session = client.open_session("alice", **{"use:database": f"IDENTIFIER('{setup.hr}')"}).sessionHandle
        for sql, expected in [("SELECT current_database()", "SUCCESS"), ("SELECT * FROM salaries", setup.hr)]:
            req = ttypes.TExecuteStatementReq(sessionHandle=session, statement=sql)
            status = client.call("ExecuteStatement", req).status
            if expected == "SUCCESS":
                assert status.statusCode == ttypes.TStatusCode.SUCCESS_STATUS, status
            else:
                assert f"alice may not read {expected}.salaries" in status.errorMessage
    finally:
        client.close()


def test_jdbc_url_conf_and_variables_in_beeline(setup: Setup) -> None:
    out = beeline(setup.gw, "-n", "alice", "-e", "SELECT 1;", url_suffix="?spark.sql.defaultCatalog=evil")
    assert "alice may not SET spark.sql.defaultCatalog" in out.stdout + out.stderr
    out = beeline(setup.gw, "-n", "alice", "-e", "SELECT 1;", url_suffix="#spark.sql.catalog.evil=x")
    assert "alice may not SET spark.sql.catalog.evil" in out.stdout + out.stderr


def test_a_deeply_nested_statement_is_refused_and_the_connection_kept(setup: Setup) -> None:
    with setup.alice() as conn:
        cur = conn.cursor()
        reason = refusal(cur, "SELECT " + "(" * 900 + "1" + ")" * 900)
        assert "nests 900 levels deep" in reason and "[policy] max_statement_depth" in reason
        whens = " ".join(f"WHEN id = {i} THEN 'label number {i}'" for i in range(20_000))
        reason = refusal(cur, f"SELECT CASE {whens} END FROM {setup.mine}.t")
        assert "[policy] max_statement_tokens" in reason
        cur.execute("SELECT 40 + 2")
        assert cur.fetchall() == [(42,)]


def test_temporary_views_of_ones_own_are_allowed(setup: Setup) -> None:
    with setup.alice() as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TEMPORARY VIEW IDENTIFIER('tv1') AS SELECT * FROM {setup.mine}.t")
        for sql in ("SELECT * FROM tv1", "DESCRIBE tv1", "CACHE TABLE tv1", "UNCACHE TABLE tv1",
                    "CACHE TABLE tv1", "UNCACHE TABLE IF EXISTS tv1", "DROP VIEW tv1"):  # fmt: skip
            cur.execute(sql)
        assert "alice may not read default.tv1" in refusal(cur, "SELECT * FROM tv1")  # gone: a table name again


def test_transforms_and_deep_nesting_in_beeline_keep_the_session(setup: Setup, tmp_path: Path) -> None:
    script = tmp_path / "attack.sql"  # beeline goes on after an error with -f --force (not with -e)
    script.write_text(f"SELECT TRANSFORM(id) USING 'id' FROM {setup.mine}.t;\n"
                      f"SELECT {'(' * 900}1{')' * 900};\nSELECT 40 + 2 AS answer;\n")  # fmt: skip
    out = beeline(setup.gw, "-n", "alice", "--force=true", "-f", str(script))
    text = out.stdout + out.stderr
    assert "a script transform (TRANSFORM/MAP/REDUCE ... USING runs a program on the executors) is not allowed" in text
    assert "nests 900 levels deep" in text and "(state=42000,code=50003)" in text
    assert "| 42      |" in out.stdout  # the same session answers the next statement


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("set:system:i8.test.probe", "JVM-wide system property"),
        ("set:hivevar:spark.sql.defaultCatalog", "may not SET spark.sql.defaultCatalog"),
        ("bogus:spark.x", "not a setting form"),
    ],
)
def test_statement_conf_overlay_uses_the_same_normaliser(setup: Setup, key: str, reason: str) -> None:
    client = RawClient(setup.gw.host, setup.gw.port)
    try:
        client.sasl_login("alice")
        session = client.open_session("alice").sessionHandle
        req = ttypes.TExecuteStatementReq(sessionHandle=session, statement="SELECT 1", confOverlay={key: "1"})
        status = client.call("ExecuteStatement", req).status
        assert status.statusCode == ttypes.TStatusCode.ERROR_STATUS and status.sqlState == "42000"
        assert reason in status.errorMessage and "confOverlay" in status.errorMessage
    finally:
        client.close()
