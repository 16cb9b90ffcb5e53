"""A real Spark Thrift Server from the installed pyspark, for tests and benchmarks.

Set ADHOC_TEST_STS=host:port to reuse one already running (handy while iterating).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def spark_home() -> str:
    import pyspark

    return os.path.dirname(pyspark.__file__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningSTS:
    host: str
    port: int
    ui_port: int | None
    process: subprocess.Popen[bytes] | None = None
    workdir: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_sts(timeout: float = 120.0, extra_args: tuple[str, ...] = (), http: bool = False) -> RunningSTS:
    """http: the STS's own HTTP transport (POST /cliservice) instead of binary, on the returned port."""
    reuse = os.environ.get("ADHOC_TEST_STS")
    if reuse and not extra_args and not http:
        host, _, port = reuse.rpartition(":")
        return RunningSTS(host, int(port), None)
    home = spark_home()
    port, ui_port = free_port(), free_port()
    workdir = tempfile.mkdtemp(prefix="adhoc-test-sts-")
    log = open(Path(workdir) / "sts.log", "wb")  # noqa: SIM115 (lives as long as the server)
    cmd = [
        f"{home}/bin/spark-submit",
        "--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        "--master", "local[2]",
        "--conf", f"spark.ui.port={ui_port}",
        "--conf", "spark.ui.showConsoleProgress=false",
        "--conf", f"spark.sql.warehouse.dir={workdir}/warehouse",
        "--conf", "spark.driver.memory=1g",
        "--hiveconf", f"hive.server2.thrift.port={port}",
        "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1",
        *(("--hiveconf", "hive.server2.transport.mode=http", "--hiveconf", f"hive.server2.thrift.http.port={port}")
          if http else ()),
        *extra_args,
        "spark-internal",
    ]  # fmt: skip
    env = dict(os.environ, SPARK_HOME=home)
    process = subprocess.Popen(cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    sts = RunningSTS("127.0.0.1", port, ui_port, process, workdir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sts.stop()
            raise RuntimeError(f"Spark Thrift Server exited with {process.returncode}; see {workdir}/sts.log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return sts
        except OSError:
            time.sleep(0.3)
    sts.stop()
    raise RuntimeError("Spark Thrift Server did not start in time")
