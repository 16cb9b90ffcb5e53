"""adhoc-sql against a real adhoc gateway in front of a real Spark Thrift Server."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual.widgets import TextArea

from tests.gateway_harness import GatewayThread, gateway_config
from tests.requires import require_binary
from tests.sts import RunningSTS
from tests.tui.test_app import settle
from tui.adapter import QueryError, State
from tui.app import AdhocSqlApp
from tui.hs2 import HS2Connection
from tui.widgets.log_pane import LogPane
from tui.widgets.results import ResultsView
from tui.widgets.session_panel import SessionPanel


def headless(gw: GatewayThread, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "tui", "--host", gw.host, "--port", str(gw.port), "--user", "tess", *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)


def test_headless_formats(gateway: GatewayThread) -> None:
    sql = "SELECT id, CAST(id * 2 AS STRING) AS twice FROM range(3)"
    table = headless(gateway, "-e", sql)
    assert table.returncode == 0, table.stderr
    assert "| id | twice |" in table.stdout and "| 2  | 4     |" in table.stdout and "3 rows" in table.stdout
    as_csv = headless(gateway, "-e", sql, "--format", "csv")
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [["id", "twice"], ["0", "0"], ["1", "2"], ["2", "4"]]
    as_tsv = headless(gateway, "-e", sql, "--format", "tsv")
    assert as_tsv.stdout.splitlines()[1] == "0\t0"
    as_json = headless(gateway, "--format", "json", stdin=sql + ";\nADHOC DESC SESSION;")
    first, second = (json.loads(line) for line in as_json.stdout.splitlines())
    assert first == [{"id": 0, "twice": "0"}, {"id": 1, "twice": "2"}, {"id": 2, "twice": "4"}]
    assert second[0]["user"] == "tess" and second[0]["engine"] == "sts-test"


def test_headless_exit_codes(gateway: GatewayThread, tmp_path: Path) -> None:
    script = tmp_path / "q.sql"
    script.write_text("SELECT 1;\nSELECT * FROM no_such_table_tui;\nSELECT 2;\n")
    failed = headless(gateway, "-f", str(script))
    assert failed.returncode == 1
    assert "error [42P01]" in failed.stderr and "no_such_table_tui" in failed.stderr
    assert "\tat " not in failed.stderr  # no Java stack trace for people
    unreachable = subprocess.run([sys.executable, "-m", "tui", "--port", "1", "-e", "SELECT 1"],
                                 capture_output=True, text=True, timeout=60)  # fmt: skip
    assert unreachable.returncode == 2 and "cannot connect" in unreachable.stderr
    usage = subprocess.run([sys.executable, "-m", "tui", "--format", "xml"], capture_output=True, text=True)
    assert usage.returncode == 2


def test_adapter_cancel_really_stops_the_engine(gateway: GatewayThread) -> None:
    conn = HS2Connection(gateway.host, gateway.port, "tess")
    try:
        cursor = conn.execute("SELECT count(*) FROM range(100000000000)")
        time.sleep(1.0)
        asked = time.monotonic()
        assert cursor.poll().state is State.RUNNING
        # not held for HiveServer2's 5 s long poll: logs, progress and Escape stay live
        assert time.monotonic() - asked < 1.5
        cursor.cancel()
        deadline = time.monotonic() + 20
        while (state := cursor.poll().state) is State.RUNNING:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert state is State.CANCELED
        assert conn.databases()  # the connection is still good
    finally:
        conn.close()


async def test_app_against_the_gateway(gateway: GatewayThread, tmp_path: Path) -> None:
    conn = HS2Connection(gateway.host, gateway.port, "tess")
    app = AdhocSqlApp(conn, state_dir=tmp_path)
    try:
        async with app.run_test(size=(150, 45)) as pilot:
            for _ in range(60):
                await pilot.pause(0.1)
                if app.query_one(SessionPanel).info is not None:
                    break
            panel = str(app.query_one(SessionPanel).render())
            assert "tess@" in panel and "engine sts-test (route local)" in panel
            info = app.query_one(SessionPanel).info
            assert info is not None and info.spark_ui_url == f"{gateway.http_url}/ui/{info.session_id}/"
            assert f"Spark UI: {info.spark_ui_url}" in panel and f"logs: {gateway.http_url}/logs/" in panel
            rendered = app.query_one(SessionPanel).render()
            links = [getattr(s.style, "link", None) for s in getattr(rendered, "spans", [])]
            assert info.spark_ui_url in links  # clickable (OSC 8) where the terminal can
            app.query_one(TextArea).text = "SELECT id, id % 7 AS m FROM range(25)"
            await pilot.press("f5")
            await settle(pilot, app, 30)
            table = app.query_one(ResultsView).table
            assert table is not None and table.num_rows == 25 and table.column_names == ["id", "m"]
            assert any(line.startswith("[adhoc] session ") for line in app.query_one(LogPane).text_lines)
            app.query_one(TextArea).text = "SELECT * FROM missing_for_tui"
            await pilot.press("f5")
            await settle(pilot, app, 30)
            assert "sqlState 42P01" in str(app.query_one("#result-summary").render())
    finally:
        conn.close()


def test_tmux_smoke(gateway: GatewayThread, tmp_path: Path) -> None:
    # A private tmux server with no config: nothing else sizes or styles its window.
    tmux = [require_binary("tmux"), "-L", f"adhoc-test-{os.getpid()}", "-f", "/dev/null"]
    # The window is 160x48; say so, whatever size the environment that started tmux claimed.
    env = f"XDG_DATA_HOME={tmp_path} XDG_CONFIG_HOME={tmp_path} TERM=xterm-256color COLUMNS=160 LINES=48"
    cmd = f"env {env} {sys.executable} -m tui --host {gateway.host} --port {gateway.port} --user tmuxer"
    subprocess.run([*tmux, "new-session", "-d", "-s", "t", "-x", "160", "-y", "48", cmd], check=True)
    # Some tmux set-ups size a detached window from the environment that started the server: pin it.
    subprocess.run([*tmux, "set-option", "-t", "t", "window-size", "manual"], capture_output=True)
    subprocess.run([*tmux, "resize-window", "-t", "t", "-x", "160", "-y", "48"], capture_output=True)
    try:
        _wait_for(tmux, "tmuxer@", 30)
        subprocess.run([*tmux, "send-keys", "-t", "t", "SELECT 6 * 7 AS answer"], check=True)
        _wait_for(tmux, "SELECT 6 * 7 AS answer", 20)  # the keys reached the editor
        subprocess.run([*tmux, "send-keys", "-t", "t", "F5"], check=True)
        screen = _wait_for(tmux, "1 row", 60)
        assert "answer" in screen and "42" in screen
        subprocess.run([*tmux, "send-keys", "-t", "t", "C-q"], check=True)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def _wait_for(tmux: list[str], text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True).stdout
        if text in screen:
            return screen
        time.sleep(0.3)
    size = subprocess.run([*tmux, "display", "-p", "-t", "t", "#{window_width}x#{window_height}"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    raise AssertionError(f"{text!r} never appeared on the {size} screen:\n{screen}")


def _run(conn: HS2Connection, sql: str) -> list[object]:
    cursor = conn.execute(sql)
    while (status := cursor.poll()).state is State.RUNNING:
        time.sleep(0.05)
    if status.error is not None:
        raise status.error
    table = cursor.fetch(100)
    return [] if table is None else table.column(0).to_pylist()


def test_a_gateway_restart_costs_one_statement_not_the_session(sts: RunningSTS) -> None:
    gw = GatewayThread(gateway_config(sts.address))
    port = gw.port
    conn = HS2Connection(gw.host, port, "tess")
    try:
        assert _run(conn, "SELECT 1") == [1]
        gw.stop()  # a deployment: the gateway goes and comes back on the same port
        gw = GatewayThread(gateway_config(sts.address, thrift_port=port))
        with pytest.raises(QueryError, match=r"broke .*the next statement reconnects"):
            _run(conn, "SELECT 2")
        assert _run(conn, "SELECT 3") == [3]
        assert conn.generation == 1
        assert conn.session_info().session_id  # the new session, as the gateway describes it
    finally:
        conn.close()
        gw.stop()
