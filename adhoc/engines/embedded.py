"""The embedded engine: a local Spark Thrift Server launched from the installed pyspark.

`adhoc serve` with no engines configured runs one, so a new user gets a working gateway from
`pip install` alone. The server is a child we own: it dies with the gateway even on SIGKILL
(PR_SET_PDEATHSIG), and runs in its own process group so stopping it stops its JVM too.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from adhoc.config import EngineConfig
from adhoc.engines import Engine
from adhoc.errors import EngineError

log = logging.getLogger("adhoc.engines")

_PR_SET_PDEATHSIG = 1
PROGRESS_EVERY_S = 10.0  # a first start takes ~50 s on a small machine: say it is still going


def log_progress(line: str) -> None:
    log.info(line)


def spark_home() -> str:
    try:
        import pyspark
    except ImportError:  # pragma: no cover - pyspark is a dependency
        raise EngineError("the embedded engine needs the pyspark package: pip install pyspark") from None
    return os.path.dirname(pyspark.__file__)


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not candidate or not os.access(candidate, os.X_OK):
        raise EngineError(
            "the embedded Spark engine needs Java 17 or newer, and no `java` was found: "
            "install a JDK (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
        )
    return candidate


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class EmbeddedSTS:
    """A Spark Thrift Server child process on loopback: a lifecycle part (`start()` returns once
    clients can connect; `engine` is then the engine to route to)."""

    config: EngineConfig
    data_dir: str
    start_timeout_s: float = 180.0
    progress: Callable[[str], None] = field(default=log_progress, repr=False)  # what a waiting user reads
    process: asyncio.subprocess.Process | None = None
    port: int = 0
    ui_port: int = 0
    engine: Engine | None = None

    @property
    def name(self) -> str:
        return f"embedded engine {self.config.name}"

    @property
    def log_path(self) -> Path:
        return Path(self.data_dir).absolute() / "embedded" / "sts.log"

    async def start(self) -> None:
        try:
            self.engine = await self.launch()
        except BaseException:  # failed or cancelled (Ctrl+C) half-way: leave no JVM behind
            await self.stop()
            raise

    async def launch(self) -> Engine:
        find_java()
        home = spark_home()
        workdir = Path(self.data_dir).absolute() / "embedded"
        workdir.mkdir(parents=True, exist_ok=True)
        self.port, self.ui_port = free_port(), free_port()
        cmd = [
            os.path.join(home, "bin", "spark-submit"),
            "--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
            "--name", "adhoc-embedded",
            "--master", self.config.master,
            "--conf", f"spark.ui.port={self.ui_port}",
            "--conf", "spark.ui.showConsoleProgress=false",
            "--conf", f"spark.sql.warehouse.dir={workdir / 'warehouse'}",
            "--conf", f"spark.driver.extraJavaOptions=-Dderby.system.home={workdir}",
            "--hiveconf", f"hive.server2.thrift.port={self.port}",
            "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1",
            "spark-internal",
        ]  # fmt: skip
        env = dict(os.environ, SPARK_HOME=home)
        self.progress(
            f"starting the embedded Spark Thrift Server ({self.config.master}) on 127.0.0.1:{self.port}, "
            f"log at {self.log_path}"
        )
        with open(self.log_path, "ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                *cmd, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, preexec_fn=_die_with_parent,
            )  # fmt: skip
        started = time.monotonic()
        await self._wait_ready()
        self.progress(f"the embedded Spark Thrift Server is up after {time.monotonic() - started:.0f} s")
        ui = f"http://127.0.0.1:{self.ui_port}"
        return Engine(
            name=self.config.name,
            kind="local",
            protocol="sts",
            host="127.0.0.1",
            port=self.port,
            conf=self.config.conf,
            ui_url=ui,
            history_url=self.config.history_url,
            app_id=await asyncio.to_thread(_app_id, ui),
        )

    async def _wait_ready(self) -> None:
        assert self.process is not None
        started = time.monotonic()
        deadline = started + self.start_timeout_s
        next_progress = started + PROGRESS_EVERY_S
        while time.monotonic() < deadline:
            if time.monotonic() >= next_progress:
                waited = next_progress - started
                self.progress(f"waiting for the embedded Spark Thrift Server to accept clients … {waited:.0f} s")
                next_progress += PROGRESS_EVERY_S
            if self.process.returncode is not None:
                raise EngineError(
                    f"the embedded Spark Thrift Server exited with code {self.process.returncode} "
                    f"during start-up; from its log ({self.log_path}):\n{self.log_summary()}"
                )
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                try:
                    await asyncio.wait_for(self.process.wait(), 0.3)
                except TimeoutError:
                    pass
        await self.stop()
        raise EngineError(f"the embedded Spark Thrift Server did not start within {self.start_timeout_s:.0f} s")

    def log_summary(self) -> str:
        try:
            return failure_summary(self.log_path.read_text(errors="replace"))
        except OSError:
            return "(no log)"

    async def stop(self, timeout: float = 20.0) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                await asyncio.wait_for(process.wait(), wait)
                return
            except TimeoutError:
                continue


def failure_summary(log_text: str, tail: int = 15) -> str:
    """The lines of a JVM log that say why it died: the last ERROR line and the root cause (the
    last `Caused by:`), not the `... 102 more` a stack trace ends with. The tail when there are none."""
    lines = log_text.splitlines()
    causes = [line.strip() for line in lines if line.lstrip().startswith("Caused by:")]
    errors = [line for line in lines if (" ERROR " in line or line.startswith(("Exception", "Error")))
              and not line.lstrip().startswith("Caused by:")]  # fmt: skip
    picked = [line for line in (errors[-1:] + causes[-1:]) if line]
    return "\n".join(dict.fromkeys(picked)) if picked else "\n".join(lines[-tail:])


def _app_id(ui_url: str) -> str:
    """The Spark application id, from the engine's own UI (local-<millis> in local mode)."""
    for _ in range(20):
        try:
            with urllib.request.urlopen(f"{ui_url}/api/v1/applications", timeout=2) as resp:
                apps = json.load(resp)
                if apps:
                    return str(apps[0]["id"])
        except (OSError, ValueError, KeyError):
            time.sleep(0.25)
    return ""
