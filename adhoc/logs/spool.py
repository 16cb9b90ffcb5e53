"""The local spool: each ended pod's whole log, written here before it goes to the store.

    <spool_dir>/<uid>.log.part   being written (a crash leaves it; it is discarded at the next start)
    <spool_dir>/<uid>.log        complete: the bytes to store, read once from the K8s API
    <spool_dir>/<uid>.json       what it is: pod, session, store key, size

Spooling keeps memory flat (the log streams from the API to disk in chunks), gives the store a file
of known size to upload and verify against, and keeps the log when the store is down: a spooled
pod is stored without reading the API again, even after a restart or once the pod is gone.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class SpoolEntry:
    uid: str
    pod: str
    namespace: str
    session_id: str
    key: str
    size: int
    path: str = ""


class SpoolWriter:
    """Bytes of one pod's log on their way to `<uid>.log`; `commit()` makes them an entry."""

    def __init__(self, spool: Spool, entry: SpoolEntry) -> None:
        self._spool = spool
        self._entry = entry
        self._part = spool.file(entry.uid, ".log.part")
        self._file: BinaryIO = open(self._part, "wb")  # noqa: SIM115 - closed by commit/abort
        self.size = 0
        self.last_byte = b"\n"

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self.size += len(data)
        self.last_byte = data[-1:] or self.last_byte

    def commit(self) -> SpoolEntry:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        entry = SpoolEntry(**{**asdict(self._entry), "size": self.size, "path": self._spool.file(self._entry.uid)})
        meta = self._spool.file(entry.uid, ".json")
        with open(meta + ".tmp", "w", encoding="utf-8") as f:
            json.dump({k: v for k, v in asdict(entry).items() if k != "path"}, f)
        os.replace(meta + ".tmp", meta)
        os.replace(self._part, entry.path)  # the log last: a complete .log always has its .json
        return entry

    def abort(self) -> None:
        self._file.close()
        try:
            os.unlink(self._part)
        except FileNotFoundError:
            pass


class Spool:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith((".part", ".tmp")):  # torn by a crash: the API still has the log
                os.unlink(os.path.join(directory, name))

    def file(self, uid: str, suffix: str = ".log") -> str:
        return os.path.join(self.directory, uid + suffix)

    def writer(self, uid: str, pod: str, namespace: str, session_id: str, key: str) -> SpoolWriter:
        return SpoolWriter(self, SpoolEntry(uid, pod, namespace, session_id, key, 0))

    def get(self, uid: str) -> SpoolEntry | None:
        path = self.file(uid)
        try:
            with open(self.file(uid, ".json"), encoding="utf-8") as f:
                meta = json.load(f)
            size = os.path.getsize(path)
        except (FileNotFoundError, ValueError):
            return None
        entry = SpoolEntry(**{**meta, "path": path})
        return entry if entry.size == size else None

    def entries(self) -> list[SpoolEntry]:
        uids = [name[: -len(".log")] for name in os.listdir(self.directory) if name.endswith(".log")]
        return [e for e in (self.get(uid) for uid in uids) if e is not None]

    def remove(self, uid: str) -> None:
        for suffix in (".log", ".json"):
            try:
                os.unlink(self.file(uid, suffix))
            except FileNotFoundError:
                pass
