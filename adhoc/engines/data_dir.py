"""One adhoc per data dir: the embedded engine's Derby metastore cannot be shared.

Without this, a second `adhoc serve` starts a second Spark Thrift Server on the same
`metastore_db`, which dies ~50 s later with a Derby lock error deep in its log. An advisory
`flock` on `<data_dir>/adhoc.lock` is taken first instead; the kernel drops it when the holder
exits, even on SIGKILL, so a stale file never blocks anyone. The holder's pid is written into the
file only to name it in the message. An engine that outlived its adhoc (or an adhoc from before
the lock) is found by its command line, which names the data dir.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from adhoc.errors import StartupConflict

LOCK_NAME = "adhoc.lock"


class DataDirLock:
    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir
        self._fd: int | None = None

    @property
    def name(self) -> str:
        return f"data dir lock ({self.data_dir})"

    @property
    def path(self) -> Path:
        return Path(self.data_dir) / LOCK_NAME

    async def start(self) -> None:
        self.acquire()

    async def stop(self) -> None:
        self.release()

    def acquire(self) -> None:
        try:
            Path(self.data_dir).mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise StartupConflict(f"cannot use data dir {self.data_dir} ({e.strerror}); use --data-dir DIR") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"another adhoc (pid {holder})" if holder else "another adhoc"
            raise StartupConflict(f"{who} is using data dir {self.data_dir}; stop it or use --data-dir DIR") from None
        engine = engine_using(self.data_dir)
        if engine:
            os.close(fd)
            raise StartupConflict(
                f"a Spark engine (pid {engine}) is still using data dir {self.data_dir}; "
                f"stop it (kill {engine}) or use --data-dir DIR"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing drops the flock; the file stays (removing it would race a newcomer)


def engine_using(data_dir: str, proc: str = "/proc") -> int:
    """The pid of a live embedded engine JVM whose Derby home is in `data_dir`, or 0."""
    marker = f"-Dderby.system.home={Path(data_dir).absolute() / 'embedded'}".encode()
    try:
        pids = [int(name) for name in os.listdir(proc) if name.isdigit()]
    except OSError:  # no /proc: nothing to look at
        return 0
    for pid in pids:
        try:
            with open(f"{proc}/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if marker in args and pid != os.getpid():
            return pid
    return 0


def _read_pid(fd: int) -> int:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0)
    except (OSError, ValueError):
        return 0
