"""The values the router hands out and keeps: a Route (and its Hold on group caps), a Blocked
decision, a Waiter in the queue — and the two default policies (any engine, no group caps)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from adhoc.auth import Principal
from adhoc.engines import Engine
from adhoc.routing.peers import Ticket

EngineFilter = Callable[[Engine], bool]
GroupLimits = Callable[[Principal], Mapping[str, int]]  # the principal's capped groups -> max_sessions
KIND_ORDER = {"yarn": 0, "k8s": 1, "local": 2}


def any_engine(engine: Engine) -> bool:
    return True


def no_limits(principal: Principal) -> Mapping[str, int]:
    return {}


@dataclass(eq=False, slots=True)
class Hold:
    """A session's place: counted against its groups' caps until released (session ended/failed)."""

    principal: Principal
    candidates: tuple[Engine, ...]
    groups: frozenset[str]
    tried: frozenset[str]
    release: Callable[[], None] = lambda: None
    claim: str = ""  # its places in the fleet's capped groups ([ha])


@dataclass(frozen=True, slots=True)
class Route:
    engine: Engine
    reason: str
    queued_ms: int = 0
    hold: Hold | None = field(default=None, compare=False, repr=False)

    def release(self) -> None:
        """The session this route was for has ended (or never opened). Safe to call twice."""
        if self.hold is not None:
            self.hold.release()


@dataclass(frozen=True)
class Blocked:
    reason: str
    waitable: bool = True  # something is full (or a cap reached); False: every candidate is down


@dataclass(eq=False)
class Waiter:
    principal: Principal
    candidates: tuple[Engine, ...]
    exclude: frozenset[str]
    enqueued_at: float
    future: asyncio.Future[Route]
    blocked: str
    ticket: Ticket
