"""Issue 15 parts 2, 3, 6 through real clients (pyhive, a raw HS2 client, beeline), a real gateway
with a policy and the real STS: settings smuggled with a control character, launch-time settings,
legacy settings that change how a statement is read. alice is a non-admin; carol an admin."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyhive import exc, hive
from TCLIService import ttypes

from adhoc.config import PolicyConfig
from tests.gateway.test_beeline import beeline
from tests.gateway_harness import GatewayThread, gateway_config
from tests.hs2_raw import RawClient
from tests.sts import RunningSTS

# Every protected key the issue got through, each with a harmless value for a shared engine
SMUGGLED = {"spark.sql.caseSensitive": "true", "spark.sql.defaultCatalog": "spark_catalog",
            "spark.kubernetes.container.image": "x", "spark.kubernetes.authenticate.driver.serviceAccountName": "x",
            "spark.kubernetes.driver.podTemplateFile": "/x", "spark.kubernetes.executor.deleteOnTermination": "false",
            "spark.kubernetes.driver.label.adhoc.io/session": "someone-else",
            "kyuubi.session.proxy.user": "carol"}  # fmt: skip
FORMS = ["set:{c}{k}", "set:hiveconf:{c}{k}", "set:hivevar:{c}{k}", "set:{c}hiveconf:{k}", "set:{k}{c}", "{c}{k}",
         "set:system:{c}{k}", "use:{c}{k}"]  # fmt: skip


@pytest.fixture(scope="module")
def gw(sts: RunningSTS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    tmp = Path(tmp_path_factory.mktemp("conf"))
    (tmp / "policy.toml").write_text(
        '[[rules]]\nprincipals = ["user:alice"]\nread = ["default.*"]\n'
        '[[rules]]\nprincipals = ["user:carol"]\nadmin = true\n'
    )
    config = dataclasses.replace(gateway_config(sts.address), policy=PolicyConfig(file=str(tmp / "policy.toml")))
    gateway = GatewayThread(config)
    yield gateway
    gateway.stop()


def refusal(cur: hive.Cursor, sql: str) -> str:
    with pytest.raises(exc.OperationalError) as err:
        cur.execute(sql)
    status = err.value.args[0].status
    assert status.sqlState == "42000", status
    return str(status.errorMessage)


def open_refused(gw: GatewayThread, user: str, conf: dict[str, str]) -> str:
    with pytest.raises(exc.OperationalError) as err:
        hive.connect(gw.host, port=gw.port, username=user, configuration=conf).close()
    return str(err.value)


@pytest.mark.parametrize("char", ["\x01", "\x00"])
@pytest.mark.parametrize("form", FORMS)
def test_a_control_character_smuggles_no_setting_in_pyhive(gw: GatewayThread, form: str, char: str) -> None:
    for key, value in SMUGGLED.items():
        for user in ("alice", "carol"):  # an odd spelling is refused for admins too
            message = open_refused(gw, user, {form.format(c=char, k=key): value})
            assert f"U+{ord(char):04X}" in message and "permission denied" in message, message


def test_the_issues_example_is_refused_and_the_engine_keeps_case_insensitive_names(gw: GatewayThread) -> None:
    open_refused(gw, "alice", {"set:\x01spark.sql.caseSensitive": "true"})
    with hive.connect(gw.host, port=gw.port, username="alice") as conn:
        cur = conn.cursor()
        # Spark Java-trims what follows SET: this IS spark.sql.caseSensitive, and refused as such
        assert "alice may not SET spark.sql.caseSensitive" in refusal(cur, "SET \x01spark.sql.caseSensitive=true")
        assert "U+0001" in refusal(cur, "SET `spark.sql.case\x01Sensitive`=true")
        assert "permission denied" in refusal(cur, "SET\x01spark.sql.caseSensitive=true")
        cur.execute("SET spark.sql.caseSensitive")
        assert cur.fetchall() == [("spark.sql.caseSensitive", "false")]


@pytest.mark.parametrize("key", ["set:\x01spark.sql.caseSensitive", "set:hivevar:\x00spark.sql.defaultCatalog",
                                 "\x01kyuubi.session.proxy.user", "set:spark.master=local"])  # fmt: skip
def test_a_raw_client_gets_the_same_refusal_at_opensession_and_in_conf_overlay(gw: GatewayThread, key: str) -> None:
    client = RawClient(gw.host, gw.port)
    try:
        client.sasl_login("alice")
        opened = client.open_session("alice", **{key: "true"})
        assert opened.status.statusCode == ttypes.TStatusCode.ERROR_STATUS
        assert "permission denied" in opened.status.errorMessage
        session = client.open_session("alice").sessionHandle
        req = ttypes.TExecuteStatementReq(sessionHandle=session, statement="SELECT 1", confOverlay={key: "true"})
        status = client.call("ExecuteStatement", req).status
        assert status.statusCode == ttypes.TStatusCode.ERROR_STATUS and status.sqlState == "42000", status
        assert "confOverlay" in status.errorMessage and "U+00" in status.errorMessage
    finally:
        client.close()


LAUNCH = {"kyuubi.engine.share.level": "SERVER", "kyuubi.engine.share.level.subdomain": "x",
          "kyuubi.engine.type": "JDBC", "spark.plugins": "x.Y", "spark.extraListeners": "x.Y",
          "spark.kerberos.principal": "hdfs", "spark.files": "/etc/passwd", "spark.pyspark.python": "/bin/sh",
          "spark.executor.instances": "500", "executor.memory": "64g"}  # fmt: skip


@pytest.mark.parametrize("form", ["set:hiveconf:{k}", "set:hivevar:{k}", "set:{k}", "{k}"])
def test_launch_time_settings_are_refused_in_every_form(gw: GatewayThread, form: str) -> None:
    for key, value in LAUNCH.items():
        message = open_refused(gw, "alice", {form.format(k=key): value})
        assert f"alice may not SET {key}" in message, message
    with hive.connect(
        gw.host, port=gw.port, username="carol", configuration={"set:hiveconf:kyuubi.engine.type": "SPARK_SQL"}
    ):
        pass  # admins may


def test_launch_time_settings_within_the_default_bounds_pass(gw: GatewayThread) -> None:
    with hive.connect(gw.host, port=gw.port, username="alice") as conn:
        cur = conn.cursor()
        reason = refusal(cur, "SET spark.executor.memory=64g")
        assert reason == ("permission denied: alice may not SET spark.executor.memory=64g: the policy allows "
                          "spark.executor.memory at most 8g")  # fmt: skip
        assert "shapes the engine" in refusal(cur, "SET spark.plugins=com.example.Evil")
        with pytest.raises(exc.OperationalError) as err:  # the gateway lets it through; the STS refuses it itself
            cur.execute("SET spark.executor.instances = 2")
        assert "CANNOT_MODIFY_CONFIG" in str(err.value)
        cur.execute("SET spark.sql.shuffle.partitions=3")  # a runtime setting: as before
        assert cur.fetchall() == [("spark.sql.shuffle.partitions", "3")]


def test_legacy_settings_that_change_how_a_statement_is_read_are_refused(gw: GatewayThread) -> None:
    with hive.connect(gw.host, port=gw.port, username="alice") as conn:
        cur = conn.cursor()
        for key in ("spark.sql.legacy.notReserveProperties", "spark.sql.legacy.ctePrecedencePolicy",
                    "spark.sql.legacy.allowTempViewCreationWithMultipleNameparts"):  # fmt: skip
            assert "changes how statements are read" in refusal(cur, f"SET {key}=true")
        cur.execute("SET spark.sql.legacy.notReserveProperties")
        assert cur.fetchall() == [("spark.sql.legacy.notReserveProperties", "false")]
        cur.execute("SET spark.sql.legacy.sizeOfNull=false")  # a value-level legacy setting: allowed
    message = open_refused(gw, "alice", {"set:hivevar:spark.sql.legacy.notReserveProperties": "true"})
    assert "changes how statements are read" in message


def test_beeline_shows_the_refusals(gw: GatewayThread, tmp_path: Path) -> None:
    script = tmp_path / "conf.sql"
    script.write_text("SET spark.executor.memory=64g;\nSET spark.sql.legacy.notReserveProperties=true;\n"
                      "SET `kyuubi.engine.share.level`=SERVER;\nSELECT 40 + 2 AS answer;\n")  # fmt: skip
    out = beeline(gw, "-n", "alice", "--force=true", "-f", str(script))
    text = out.stdout + out.stderr
    assert "alice may not SET spark.executor.memory=64g: the policy allows spark.executor.memory at most 8g" in text
    assert "spark.sql.legacy.notReserveProperties: it changes how statements are read" in text
    assert "kyuubi.engine.share.level=SERVER: kyuubi.engine.share.level shapes the engine" in text
    assert "(state=42000,code=50003)" in text and "| 42      |" in out.stdout
    out = beeline(gw, "-n", "alice", "-e", "SELECT 1;", url_suffix=";#kyuubi.engine.share.level=SERVER")
    assert "alice may not SET kyuubi.engine.share.level" in out.stdout + out.stderr


def test_a_session_conf_value_cannot_read_the_engines_environment(gw: GatewayThread) -> None:
    """Without the check, `SET probe.home` shows the STS's $HOME (any env var: cloud keys)."""
    message = open_refused(gw, "alice", {"set:hiveconf:probe.home": "${env:HOME}"})
    assert "variable substitution" in message, message
    with hive.connect(
        gw.host, port=gw.port, username="carol", configuration={"set:hiveconf:probe.home": "${env:HOME}"}
    ) as conn:
        cur = conn.cursor()
        cur.execute("SET probe.home")
        assert cur.fetchall()[0][1].startswith("/")  # what the engine does with it: admins only
