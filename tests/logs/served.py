"""A real `python -m adhoc serve` with one k8s engine, against the fake K8s API and moto's S3.

The engine's Thrift endpoint is a closed port on purpose: log collection needs only the K8s API.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.logs.s3 import S3Server, free_port

ROOT = Path(__file__).resolve().parents[2]


def write_config(
    tmp: Path, kubeconfig: str, s3: S3Server, bucket: str, *, auth: str = "", endpoint: str = "", engine: str = ""
) -> Path:
    """`endpoint`: reach S3 there instead (a proxy); `engine`: the engine's Thrift address."""
    config = tmp / "adhoc.toml"
    options = {**s3.options(), **({"endpoint_url": endpoint} if endpoint else {})}
    config.write_text(f"""
[server]
host = "127.0.0.1"
thrift_port = {free_port()}
http_port = {free_port()}
data_dir = "{tmp / "data"}"
{auth}
[[engines]]
name = "k8s-main"
kind = "k8s"
protocol = "kyuubi"
address = "{engine or f"127.0.0.1:{free_port()}"}"
kubeconfig = "{kubeconfig}"
namespace = "spark"

[logs]
store = "s3://{bucket}/adhoc"
spool_dir = "{tmp / "spool"}"
[logs.storage_options]
endpoint_url = "{options["endpoint_url"]}"
key = "{options["key"]}"
secret = "{options["secret"]}"

[pricing]
cpu_core_hour = 0.04
memory_gib_hour = 0.005
""")
    return config


class ServedGateway:
    def __init__(self, config: Path) -> None:
        self.config = config
        self.proc: subprocess.Popen[str] | None = None
        self.ready = ""
        self.output: list[str] = []

    def start(self, timeout: float = 60.0) -> ServedGateway:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "adhoc", "serve", "--config", str(self.config)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=str(ROOT),
        )  # fmt: skip
        found = threading.Event()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)
                if line.startswith("adhoc ready"):
                    self.ready = line.strip()
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        if not found.wait(timeout):
            self.kill()
            raise AssertionError("adhoc serve did not get ready:\n" + "".join(self.output[-40:]))
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def http_url(self) -> str:
        return self.ready.split("http=", 1)[1]

    def peak_rss_mb(self) -> float:
        """The process's high-water resident memory (VmHWM), in MiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
