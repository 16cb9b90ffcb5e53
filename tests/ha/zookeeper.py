"""A real ZooKeeper (Debian's `zookeeper` package) on a free loopback port, standalone."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.logs.s3 import free_port
from tests.requires import missing


class ZooKeeperServer:
    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> ZooKeeperServer:
        jars = glob.glob("/usr/share/java/zookeeper*.jar")
        java = shutil.which("java")
        if not jars or java is None:
            missing("ZooKeeper", "apt-get install zookeeper")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "zoo.cfg"
        # tickTime 500 ms: clients may ask for sessions as short as 1 s (2 ticks), so a vanished
        # replica is forgotten within a test's patience
        config.write_text(f"tickTime=500\ndataDir={self.data_dir / 'data'}\nclientPort={self.port}\n"
                          "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=ruok\n"
                          "maxSessionTimeout=60000\n")  # fmt: skip
        log = open(self.data_dir / "zookeeper.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [java, "-Xmx256m", "-cp", "/usr/share/java/*:/etc/zookeeper/conf",
             "org.apache.zookeeper.server.ZooKeeperServerMain", str(config)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ZOO_LOG_DIR": str(self.data_dir)},
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self.ruok():
            assert self.proc.poll() is None, (self.data_dir / "zookeeper.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "ZooKeeper did not start"
            time.sleep(0.2)
        return self

    def ruok(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"ruok")
                return s.recv(4) == b"imok"
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
