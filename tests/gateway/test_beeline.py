"""Real beeline (Hive JDBC 2.3, shipped inside pyspark) through the gateway."""

from __future__ import annotations

import os
import subprocess

from tests.gateway_harness import GatewayThread
from tests.requires import require_java
from tests.sts import spark_home


def beeline(gw: GatewayThread, *args: str, url_suffix: str = "") -> subprocess.CompletedProcess[str]:
    require_java()
    home = spark_home()
    cmd = [f"{home}/bin/beeline", "-u", f"jdbc:hive2://{gw.host}:{gw.port}/default{url_suffix}", *args]
    env = dict(os.environ, SPARK_HOME=home)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)


def test_beeline_query_shows_results_and_adhoc_log_lines(gateway: GatewayThread) -> None:
    out = beeline(gateway, "-n", "alice", "-e", "SELECT 40 + 2 AS answer; ADHOC DESC SESSION;")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "| answer  |" in out.stdout and "| 42      |" in out.stdout
    # beeline prints operation logs (stderr) for every statement: ours come first
    assert "[adhoc] session " in out.stderr and "runs on engine sts-test" in out.stderr
    assert "[adhoc] Spark UI:" in out.stderr
    header = next(line for line in out.stdout.splitlines() if "session_id" in line)
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "session_id",
        "user",
        "route",
        "engine",
        "app_id",
        "spark_ui_url",
        "logs_url",
        "queued_ms",
        "cost",
    ]
    row = next(line for line in out.stdout.splitlines() if "| alice " in line)
    assert "sts-test" in row
    assert [c.strip() for c in row.strip().strip("|").split("|")][-1] == "NULL"  # a DOUBLE, NULL: not K8s


def test_beeline_sees_engine_errors(gateway: GatewayThread) -> None:
    out = beeline(gateway, "-n", "alice", "-e", "SELECT * FROM missing_table_xyz;")
    assert out.returncode != 0
    assert "missing_table_xyz" in out.stderr and "TABLE_OR_VIEW_NOT_FOUND" in out.stderr


def test_beeline_session_conf_reaches_the_engine(gateway: GatewayThread) -> None:
    out = beeline(gateway, "-n", "alice", "-e", "SET spark.sql.shuffle.partitions;",
                  url_suffix="?spark.sql.shuffle.partitions=7")  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    row = next(line for line in out.stdout.splitlines() if "spark.sql.shuffle.partitions" in line)
    assert [cell.strip() for cell in row.strip().strip("|").split("|")] == ["spark.sql.shuffle.partitions", "7"]


def test_beeline_chooses_a_route_in_the_jdbc_url(gateway: GatewayThread) -> None:
    ok = beeline(gateway, "-n", "alice", "-e", "ADHOC DESC SESSION;", url_suffix=";#adhoc.route=sts-test")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "(route local): requested route 'sts-test'" in ok.stderr
    bad = beeline(gateway, "-n", "alice", "-e", "SELECT 1;", url_suffix=";#adhoc.route=mars")
    assert bad.returncode != 0
    assert "unknown route 'mars'" in bad.stdout + bad.stderr


def test_beeline_nosasl(gateway: GatewayThread) -> None:
    out = beeline(
        gateway, "-n", "nora", "-e", "SELECT 20 + 22 AS answer; ADHOC DESC SESSION;", url_suffix=";auth=noSasl"
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "| 42      |" in out.stdout and "| nora " in out.stdout
