"""Several replicas as one gateway: what the replicas must agree on, behind one small interface.

    fleet = build_fleet(config, registry_count)      # LocalFleet without [ha], ZooKeeperFleet with it
    admission = await fleet.admit(user, check)       # check(open sessions of the user, fleet-wide)
    if admission.allowed: ... admission.attach(session_id) ... fleet.released(session_id)

Without `[ha] zookeeper` nothing changes: LocalFleet counts the sessions this process holds, kazoo is
never imported. With it, adhoc.ha.zookeeper registers the replica for Hive JDBC's ZooKeeper discovery
and counts every replica's sessions in ZooKeeper (see its docstring for what is exact).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

D = TypeVar("D")


@dataclass
class Admission:
    """A place in the user's fleet-wide count, held from OpenSession until the session closes."""

    allowed: bool
    token: str = ""  # the backend's handle on the place (a znode path); "" = nothing to release


class Fleet(Protocol):
    @property
    def name(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def admit(self, user: str, check: Callable[[int], bool]) -> Admission:
        """Count the user's open sessions across the fleet, ask `check(count)`, and hold a place
        if it allows. A place not attached to a session must be given back with `abandon`."""
        ...

    def attach(self, admission: Admission, session_id: str, facts: dict[str, object]) -> None:
        """The admitted session opened: its place now lives as long as the session."""
        ...

    async def owner_of(self, session_id: str) -> dict[str, object] | None:
        """What the fleet knows of an open session held by another replica ("replica": its HTTP address)."""
        ...

    async def sessions_of(self, user: str) -> list[dict[str, object]]:
        """The user's open sessions across the fleet, as their replicas recorded them."""
        ...

    async def ended_session(self, session_id: str) -> dict[str, object] | None:
        """What the fleet remembers of a session that ended on another replica (for its history link)."""
        ...

    def abandon(self, admission: Admission) -> None:
        """The admitted session never opened."""
        ...

    def released(self, session_id: str) -> None:
        """The session closed (or its client vanished): free its place."""
        ...

    def status(self) -> dict[str, object]:
        """For /readyz and /api/v1/engines: connected or not, and why."""
        ...


class LocalFleet:
    """One replica: the sessions this process holds are all there are."""

    name = "fleet (one replica)"

    def __init__(self, open_count: Callable[[str], int]) -> None:
        self._open_count = open_count

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def admit(self, user: str, check: Callable[[int], bool]) -> Admission:
        return Admission(check(self._open_count(user)))

    def attach(self, admission: Admission, session_id: str, facts: dict[str, object]) -> None:
        pass

    async def owner_of(self, session_id: str) -> dict[str, object] | None:
        return None

    async def sessions_of(self, user: str) -> list[dict[str, object]]:
        return []

    async def ended_session(self, session_id: str) -> dict[str, object] | None:
        return None

    def abandon(self, admission: Admission) -> None:
        pass

    def released(self, session_id: str) -> None:
        pass

    def status(self) -> dict[str, object]:
        return {"mode": "single"}
