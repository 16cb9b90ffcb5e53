"""The audit log: one JSON line per login and per statement decision, appended to a file.

Lines carry who, from where, which session and route, the decision and its reason, the tables,
and a digest of the statement (never its text, which may hold literals that are data).
"""

from __future__ import annotations

import json
import threading
from typing import IO, Any


class AuditLog:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: IO[str] = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (lives with the gateway)

    def __call__(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, sort_keys=True, default=str)
        with self._lock:
            self._file.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            self._file.close()
