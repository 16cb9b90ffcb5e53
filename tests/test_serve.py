"""`adhoc serve` as a new user runs it: no config, the embedded Spark engine, real clients."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyhive import exc, hive

from tests.requires import require_binary, require_java
from tests.sts import RunningSTS, free_port


def embedded_engines(data_dir: Path) -> list[int]:
    """The embedded engines whose data lives in `data_dir`: this test's, not another adhoc's."""
    out = subprocess.run(["pgrep", "-f", f"adhoc-embedded.*{data_dir}|{data_dir}.*adhoc-embedded"],
                         capture_output=True, text=True).stdout  # fmt: skip
    return [int(p) for p in out.split()]


class Served:
    def __init__(self, tmp: Path) -> None:
        self.thrift_port, self.http_port = free_port(), free_port()
        self.data_dir = tmp / "data"
        env = dict(os.environ, XDG_DATA_HOME=str(self.data_dir))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "adhoc", "serve", "--thrift-port", str(self.thrift_port),
             "--http-port", str(self.http_port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.ready = self.proc.stdout.readline().strip()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    require_java()
    require_binary("pgrep", package="procps")  # how the tests find the engine's JVM
    s = Served(tmp_path)
    yield s
    if s.proc.poll() is None:
        s.proc.kill()
        s.proc.wait(10)


def test_serve_embedded_engine_end_to_end(served: Served) -> None:
    assert served.ready == (
        f"adhoc ready thrift=127.0.0.1:{served.thrift_port} http=http://127.0.0.1:{served.http_port}"
    )
    with hive.connect("127.0.0.1", port=served.thrift_port, username="newuser") as conn:
        cur = conn.cursor()
        cur.execute("SELECT sum(id) FROM range(1000)")
        assert cur.fetchall() == [(499500,)]
        cur.execute("ADHOC DESC SESSION")
        row = dict(zip([d[0] for d in cur.description], cur.fetchall()[0], strict=True))
    assert row["engine"] == "local" and row["route"] == "local" and row["user"] == "newuser"
    assert row["spark_ui_url"].startswith("http://127.0.0.1:")
    assert row["app_id"].startswith("local-")
    assert embedded_engines(served.data_dir), "the embedded engine should be running"
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(60) == 0
    assert served.proc.stderr is not None
    stderr = served.proc.stderr.read()
    assert "no [policy] file configured" in stderr
    # what a new user watching the terminal reads during the ~50 s first start
    log_path = served.data_dir / "adhoc" / "embedded" / "sts.log"
    assert "adhoc: starting the embedded Spark Thrift Server (local[*]) on 127.0.0.1:" in stderr
    assert f"log at {log_path}" in stderr
    assert "adhoc: the embedded Spark Thrift Server is up after" in stderr
    deadline = time.monotonic() + 20
    while embedded_engines(served.data_dir):
        assert time.monotonic() < deadline, "the embedded engine outlived the gateway"
        time.sleep(0.2)


def test_killed_gateway_leaves_no_orphan_engine(served: Served) -> None:
    assert served.ready.startswith("adhoc ready")
    served.proc.send_signal(signal.SIGKILL)
    served.proc.wait(10)
    deadline = time.monotonic() + 30
    while embedded_engines(served.data_dir):
        assert time.monotonic() < deadline, "the embedded engine outlived a SIGKILLed gateway"
        time.sleep(0.2)


def test_missing_java_is_reported_clearly(tmp_path: Path) -> None:
    env = dict(os.environ, PATH="/nonexistent", XDG_DATA_HOME=str(tmp_path))
    env.pop("JAVA_HOME", None)
    out = subprocess.run(
        [sys.executable, "-m", "adhoc", "serve", "--thrift-port", str(free_port()), "--http-port", str(free_port())],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert out.returncode == 1
    assert "needs Java 17" in out.stderr


def test_big_statements_are_analysed_in_a_worker_of_a_real_server(tmp_path: Path, sts: RunningSTS) -> None:
    """`python -m adhoc serve` as a process: big statements go to the spawned analysis worker, and
    its verdicts are the policy's."""
    (tmp_path / "policy.toml").write_text('[[rules]]\nprincipals = ["*"]\nread = ["default.*"]\n')
    (tmp_path / "adhoc.toml").write_text(
        f'[[engines]]\nname = "sts"\nkind = "local"\naddress = "{sts.address}"\n[policy]\nfile = "policy.toml"\n'
    )
    thrift_port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "adhoc", "serve", "--config", str(tmp_path / "adhoc.toml"),
         "--thrift-port", str(thrift_port), "--http-port", str(free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("adhoc ready")
        parts = [f"SELECT {i} AS n FROM default.t{i % 9}" for i in range(2_000)]  # ~70 KB
        with hive.connect("127.0.0.1", port=thrift_port, username="erin") as conn:
            cur = conn.cursor()
            for last, verdict in (("hr.salaries", "erin may not read hr.salaries"), ("default.t0", "")):
                try:
                    cur.execute(" UNION ALL ".join([*parts, f"SELECT 0 FROM {last}"]))
                    outcome = ""
                except exc.OperationalError as e:
                    outcome = e.args[0].status.errorMessage
                if verdict:
                    assert verdict in outcome
                else:  # allowed by the policy: the engine got it (and refused it in its own words)
                    assert "permission denied" not in outcome and "Error running query" in outcome
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert proc.stderr is not None
    assert "Traceback" not in proc.stderr.read()


def test_sigterm_during_start_up_stops_the_half_started_engine(tmp_path: Path) -> None:
    require_java()
    require_binary("pgrep", package="procps")
    data_dir = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "adhoc", "serve", "--data-dir", str(data_dir),
         "--thrift-port", str(free_port()), "--http-port", str(free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert first.startswith("adhoc: starting the embedded Spark Thrift Server (local[*])"), first
        deadline = time.monotonic() + 30
        while not embedded_engines(data_dir):  # the JVM is up, the server not yet listening
            assert time.monotonic() < deadline, "the embedded engine never started"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 1
        assert "adhoc: stopped during start-up" in proc.stderr.read()
        assert proc.stdout is not None and "adhoc ready" not in proc.stdout.read()
        assert not embedded_engines(data_dir), "the half-started engine outlived the gateway"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
