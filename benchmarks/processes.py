"""The processes a benchmark runs (engine, gateway, relay: each its own, so their CPU and memory are
their own), and what it reads about them from /proc: CPU time, memory, descriptors, limits."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.sts import free_port

ROOT = Path(__file__).resolve().parent.parent

_TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def process(args: list[str], ready: str, open_files: tuple[int, int] | None = None) -> Iterator[subprocess.Popen[str]]:
    """A process whose first stdout line says it is ready; `open_files` asks for its (soft, hard)
    RLIMIT_NOFILE, as systemd's LimitNOFILE sets it (raising the hard limit needs CAP_SYS_RESOURCE:
    without it the hard limit stays, and the process says what that allows)."""

    def limits() -> None:
        if open_files is None:
            return
        soft, hard = open_files
        current = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, current), current))

    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            preexec_fn=limits)  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if ready not in line:
            raise RuntimeError(f"{args[2:4]} did not start: {line!r}")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def gateway(
    engine_address: str, server: str = "", open_files: tuple[int, int] | None = None
) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """`adhoc serve` in front of one engine; `server`: extra lines for the config's [server] table."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "adhoc.toml"
        engine = f'[[engines]]\nname = "bench"\nkind = "local"\naddress = "{engine_address}"\n'
        config.write_text(f"[server]\n{server}\n{engine}")
        port = free_port()
        cmd = [sys.executable, "-m", "adhoc", "serve", "--config", str(config), "--thrift-port", str(port),
               "--http-port", str(free_port()), "--thrift-http-port", "0", "--log-level", "WARNING"]  # fmt: skip
        with process(cmd, "adhoc ready", open_files) as proc:
            yield port, proc


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def descriptors(pid: int) -> Counter[str]:
    """Open descriptors by kind (socket, pipe, anon_inode:[eventpoll], file, ...)."""
    kinds: Counter[str] = Counter()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed while listing
            continue
        kinds[target.split(":", 1)[0] if target.startswith(("socket:", "pipe:")) else
              target if target.startswith("anon_inode") else "file"] += 1  # fmt: skip
    return kinds


def open_files_limit(pid: int) -> tuple[int, int]:
    """(soft, hard) RLIMIT_NOFILE of a running process."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise RuntimeError(f"no open-files limit for {pid}")


def shown(kinds: Counter[str]) -> str:
    return ", ".join(f"{n:,} {kind}" for kind, n in kinds.most_common()) or "none"
