"""Per-session records: who, where it ran, and the links a user follows.

One registry for the whole gateway; `ADHOC DESC SESSION`, the operation-log `[adhoc]` lines and the
HTTP API all read the same record, so they can never disagree. The routing, logs and UI-proxy
issues fill in more of it (app_id from the engine, logs_url from the log store, queued_ms).

A session's public id (`session_id`) is the gateway's own, made before OpenSession reaches the
engine so it can travel in the engine's session conf (K8s pods are labelled with it); the engine's
handle id is kept beside it as `engine_session_id`. Parts that follow sessions (the log collector,
the UI proxy) subscribe to the registry instead of being called from the call layer.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("adhoc.gateway")

DESC_COLUMNS = (
    "session_id", "user", "route", "engine", "app_id", "spark_ui_url", "logs_url", "queued_ms", "cost",
)  # fmt: skip
MAX_STATEMENT_IDS = 10_000
COST_BASIS = "estimate: engine pods' CPU/memory requests x lifetime x [pricing]"


@dataclass(slots=True)
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
    routed_at: float = 0.0  # when the router admitted it (before the engine opened it: started_at)
    client: str = ""  # client address
    protocol_version: int = 0
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    statements: int = 0
    engine_session_id: str = ""  # the engine's own session handle id (a GUID), once it answered
    # The engine's ids of the session's operations, newest last (an STS's job group is one): what
    # the UI proxy shows of a shared engine. Bounded: the oldest go first.
    statement_ids: dict[str, None] = field(default_factory=dict, repr=False, compare=False)
    # The engine cost so far, asked when shown (set by the log collector for k8s sessions)
    cost_estimate: Callable[[], float | None] | None = field(default=None, repr=False, compare=False)

    @property
    def open(self) -> bool:
        return self.ended_at is None

    @property
    def cost(self) -> float | None:
        """None: no cost known (not a K8s session, or none of its pods seen yet)."""
        if self.cost_estimate is None:
            return None
        try:
            cost = self.cost_estimate()
        except Exception:
            log.exception("cost estimate of session %s failed", self.session_id)
            return None
        return round(cost, 6) if cost is not None else None

    def desc_row(self) -> tuple[str | int | float | None, ...]:
        return (
            self.session_id, self.user, self.route, self.engine, self.app_id,
            self.spark_ui_url, self.logs_url, self.queued_ms, self.cost,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(zip(DESC_COLUMNS, self.desc_row(), strict=True))
        out.update(
            route_reason=self.route_reason,
            client=self.client,
            routed_at=self.routed_at,
            started_at=self.started_at,
            ended_at=self.ended_at,
            state="open" if self.open else "closed",
            statements=self.statements,
            engine_session_id=self.engine_session_id,
        )
        if out["cost"] is not None:
            out["cost_basis"] = COST_BASIS
        return out

    def add_statement_id(self, operation_id: str) -> None:
        self.statement_ids[operation_id] = None
        while len(self.statement_ids) > MAX_STATEMENT_IDS:
            del self.statement_ids[next(iter(self.statement_ids))]

    def log_lines(self) -> list[str]:
        """The `[adhoc]` lines that open every operation's log."""
        lines = [f"[adhoc] session {self.session_id} of {self.user} runs on engine {self.engine} "
                 f"(route {self.route}): {self.route_reason}"]  # fmt: skip
        if self.queued_ms:
            lines.append(f"[adhoc] waited {self.queued_ms} ms in the queue for capacity")
        lines.append(f"[adhoc] Spark UI: {self.spark_ui_url or 'not known for this engine'}")
        lines.append(f"[adhoc] logs: {self.logs_url or 'not collected for this engine'}")
        return lines


def new_session_id() -> str:
    return str(uuid.uuid4())


class SessionListener(Protocol):
    """Told of every session's life; called synchronously on the event loop, so keep it cheap
    (hand slow work to a task). An exception is logged, never raised into the call layer."""

    def session_opened(self, record: SessionRecord) -> None: ...

    def session_changed(self, record: SessionRecord) -> None: ...

    def session_closed(self, record: SessionRecord) -> None: ...


class SessionRegistry:
    """Open sessions, plus recently closed ones so their links stay answerable."""

    def __init__(self, keep_closed: int = 1000) -> None:
        self._sessions: dict[str, SessionRecord] = {}
        self._keep_closed = keep_closed
        self._closed: list[str] = []
        self._listeners: list[SessionListener] = []

    def subscribe(self, listener: SessionListener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: SessionListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _tell(self, event: str, record: SessionRecord) -> None:
        for listener in list(self._listeners):
            try:
                getattr(listener, event)(record)
            except Exception:  # one listener's bug must not fail a client's call
                log.exception("session listener failed", extra={"listener": type(listener).__name__, "event": event})

    def add(self, record: SessionRecord) -> None:
        self._sessions[record.session_id] = record
        self._tell("session_opened", record)

    def changed(self, record: SessionRecord) -> None:
        """Whoever changes an open record (app id learnt, logs link) says so here."""
        if record.open and self._sessions.get(record.session_id) is record:
            self._tell("session_changed", record)

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
        self._tell("session_closed", record)

    def open_count(self, user: str) -> int:
        return sum(1 for r in self._sessions.values() if r.open and r.user == user)

    def __iter__(self) -> Iterator[SessionRecord]:
        return iter(list(self._sessions.values()))

    def open_sessions(self) -> list[SessionRecord]:
        return [r for r in self._sessions.values() if r.open]
