"""What the gateway remembers of sessions that ended, so their links keep leading somewhere useful.

A session's `/ui/<id>/` link outlives the session: afterwards it redirects to the Spark history
server or the session's logs. For that the gateway keeps who owned it, where it ran and its app id,
for `[server] ended_session_retention_s` (default a day) and at most `ended_session_max` of them;
the oldest go first. Fed by the session registry as a listener; reads take a clock so tests can move
time.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from adhoc.gateway.sessions import SessionRecord


@dataclass(frozen=True)
class EndedSession:
    session_id: str
    user: str
    engine: str
    app_id: str
    ended_at: float


class EndedSessions:
    """A bounded, time-limited memory of ended sessions (a SessionRegistry listener)."""

    def __init__(self, retention_s: float = 86400.0, max_entries: int = 100_000,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.retention_s = retention_s
        self.max_entries = max_entries
        self._clock = clock
        self._ended: OrderedDict[str, EndedSession] = OrderedDict()

    def session_opened(self, record: SessionRecord) -> None:
        pass

    def session_changed(self, record: SessionRecord) -> None:
        pass

    def session_closed(self, record: SessionRecord) -> None:
        ended = EndedSession(record.session_id, record.user, record.engine, record.app_id,
                             record.ended_at if record.ended_at is not None else self._clock())  # fmt: skip
        self._ended.pop(record.session_id, None)
        self._ended[record.session_id] = ended
        self._expire()

    def remember(self, ended: EndedSession) -> None:
        """A session that ended on another replica ([ha]), as the fleet remembers it."""
        if ended.session_id not in self._ended:
            self._ended[ended.session_id] = ended
            self._expire()

    def get(self, session_id: str) -> EndedSession | None:
        self._expire()
        return self._ended.get(session_id)

    def __len__(self) -> int:
        self._expire()
        return len(self._ended)

    def _expire(self) -> None:
        horizon = self._clock() - self.retention_s
        while self._ended:
            oldest = next(iter(self._ended.values()))
            if oldest.ended_at >= horizon and len(self._ended) <= self.max_entries:
                break
            self._ended.popitem(last=False)
