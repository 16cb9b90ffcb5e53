"""What the client keeps between runs: editor buffers and the statement history (XDG data dir)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path


def load_buffers(path: Path) -> list[str]:
    try:
        data = json.loads(path.read_text())
        buffers = [str(b) for b in data.get("buffers", [])]
    except (OSError, ValueError, AttributeError):
        return [""]
    return buffers or [""]


def save_buffers(path: Path, buffers: list[str]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"buffers": buffers}))
    tmp.replace(path)


@dataclass(frozen=True)
class HistoryEntry:
    sql: str
    started_at: float
    duration_s: float
    outcome: str  # "ok: 12 rows", "error [42000]: ...", "cancelled"

    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started_at))


class History:
    """Every statement run, newest last, in a JSON-lines file that only grows by appending."""

    def __init__(self, path: Path, keep: int = 5000) -> None:
        self.path = path
        self.entries: list[HistoryEntry] = []
        try:
            for line in path.read_text().splitlines()[-keep:]:
                try:
                    self.entries.append(HistoryEntry(**json.loads(line)))
                except (ValueError, TypeError):
                    continue
        except OSError:
            pass

    def add(self, entry: HistoryEntry) -> None:
        self.entries.append(entry)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(asdict(entry)) + "\n")

    def search(self, text: str) -> list[HistoryEntry]:
        needle = text.lower().strip()
        return [e for e in reversed(self.entries) if needle in e.sql.lower() or needle in e.outcome.lower()]
