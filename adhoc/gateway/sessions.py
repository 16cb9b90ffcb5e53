"""Per-session records: who, where it ran, and the links a user follows.

One registry for the whole gateway; `ADHOC DESC SESSION`, the operation-log `[adhoc]` lines and the
HTTP API all read the same record, so they can never disagree. The routing, logs and UI-proxy
issues fill in more of it (app_id from the engine, logs_url from the log store, queued_ms).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

DESC_COLUMNS = ("session_id", "user", "route", "engine", "app_id", "spark_ui_url", "logs_url", "queued_ms")


@dataclass
class SessionRecord:
    session_id: str
    user: str
    route: str  # the route kind: yarn | k8s | local
    engine: str  # the engine's name
    route_reason: str = ""
    app_id: str = ""
    spark_ui_url: str = ""  # public link: <public_url>/ui/<session_id>/ (the gateway's UI proxy)
    logs_url: str = ""  # public link: <public_url>/logs/<session_id>/
    engine_ui_url: str = ""  # where the proxy reaches the engine's Spark UI; never shown to users
    queued_ms: int = 0
    client: str = ""  # client address
    protocol_version: int = 0
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    statements: int = 0

    @property
    def open(self) -> bool:
        return self.ended_at is None

    def desc_row(self) -> tuple[str | int, ...]:
        return (
            self.session_id, self.user, self.route, self.engine, self.app_id,
            self.spark_ui_url, self.logs_url, self.queued_ms,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(zip(DESC_COLUMNS, self.desc_row(), strict=True))
        out.update(
            route_reason=self.route_reason,
            client=self.client,
            started_at=self.started_at,
            ended_at=self.ended_at,
            state="open" if self.open else "closed",
            statements=self.statements,
        )
        return out

    def log_lines(self) -> list[str]:
        """The `[adhoc]` lines that open every operation's log."""
        lines = [f"[adhoc] session {self.session_id} of {self.user} runs on engine {self.engine} "
                 f"(route {self.route}): {self.route_reason}"]  # fmt: skip
        if self.queued_ms:
            lines.append(f"[adhoc] waited {self.queued_ms} ms in the queue for capacity")
        lines.append(f"[adhoc] Spark UI: {self.spark_ui_url or 'not known for this engine'}")
        lines.append(f"[adhoc] logs: {self.logs_url or 'not collected for this engine'}")
        return lines


class SessionRegistry:
    """Open sessions, plus recently closed ones so their links stay answerable."""

    def __init__(self, keep_closed: int = 1000) -> None:
        self._sessions: dict[str, SessionRecord] = {}
        self._keep_closed = keep_closed
        self._closed: list[str] = []

    def add(self, record: SessionRecord) -> None:
        self._sessions[record.session_id] = record

    def get(self, session_id: str) -> SessionRecord | None:
        return self._sessions.get(session_id)

    def close(self, session_id: str) -> None:
        record = self._sessions.get(session_id)
        if record is None or not record.open:
            return
        record.ended_at = time.time()
        self._closed.append(session_id)
        while len(self._closed) > self._keep_closed:
            self._sessions.pop(self._closed.pop(0), None)

    def open_count(self, user: str) -> int:
        return sum(1 for r in self._sessions.values() if r.open and r.user == user)

    def __iter__(self) -> Iterator[SessionRecord]:
        return iter(list(self._sessions.values()))

    def open_sessions(self) -> list[SessionRecord]:
        return [r for r in self._sessions.values() if r.open]
