"""What the other replicas of the gateway are doing, as far as routing must know ([ha]).

    router = CapacityRouter(..., peers=fleet_peers)    # NoPeers: one replica, nothing elsewhere

Three facts make limits, headroom and the queue hold for a fleet rather than per replica:

- `group_sessions(g)`: sessions of a capped group that other replicas hold (a quick look), and
  `claim_groups(caps)`: the exact check once this replica has chosen — the session's place in each
  capped group is taken first, then the places ahead of it are counted, so two replicas admitting
  at once see each other and a cap is never exceeded (at worst both are refused and wait);
- `placed_since(engine, age_s)`: sessions other replicas sent to an engine in the last `age_s`
  seconds — placed after this replica's figures were taken, so not in them (headroom), exactly as
  the router counts its own placements until a fresh probe;
- `waiting()`: other replicas' waiters, in one fleet-wide order (`Ticket.seq`), so a waiter here
  does not take capacity an earlier waiter elsewhere could use (FIFO).

The ZooKeeper implementation is adhoc.ha.peers; with no `[ha]`, `NoPeers` says nothing happens
elsewhere and the router behaves exactly as a lone replica.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(eq=False)
class Ticket:
    """A waiter's place in the fleet's queue. `seq` orders waiters fleet-wide; it may change once,
    if the replica's ZooKeeper session expired and the place had to be taken again."""

    seq: int
    token: str = field(default="", repr=False)


@dataclass(frozen=True)
class PeerWaiter:
    """A session waiting on another replica: enough to tell whether it could go now."""

    seq: int
    user: str
    caps: Mapping[str, int]  # its capped groups -> max_sessions
    engines: tuple[str, ...]  # the engines it may still take
    waited_s: float
    replica: str


class Peers(Protocol):
    on_change: Callable[[], None]  # set by the router: something elsewhere changed, look at the queue again

    def group_sessions(self, group: str) -> int: ...

    async def claim_groups(self, caps: Mapping[str, int]) -> tuple[str, str]:
        """(token, "") with the session's places taken, or ("", why) when a cap is reached."""
        ...

    def release_groups(self, token: str) -> None: ...

    def placed_since(self, engine: str, age_s: float) -> int: ...

    def placed(self, engine: str) -> None: ...

    async def enqueue(self, user: str, caps: Mapping[str, int], engines: Sequence[str]) -> Ticket: ...

    def dequeue(self, ticket: Ticket) -> None: ...

    def waiting(self) -> Sequence[PeerWaiter]: ...


class NoPeers:
    """One replica: nobody else holds sessions, places them, or waits."""

    def __init__(self) -> None:
        self.on_change: Callable[[], None] = lambda: None
        self._seq = itertools.count(1)

    def group_sessions(self, group: str) -> int:
        return 0

    async def claim_groups(self, caps: Mapping[str, int]) -> tuple[str, str]:
        return "", ""

    def release_groups(self, token: str) -> None:
        pass

    def placed_since(self, engine: str, age_s: float) -> int:
        return 0

    def placed(self, engine: str) -> None:
        pass

    async def enqueue(self, user: str, caps: Mapping[str, int], engines: Sequence[str]) -> Ticket:
        return Ticket(next(self._seq))

    def dequeue(self, ticket: Ticket) -> None:
        pass

    def waiting(self) -> Sequence[PeerWaiter]:
        return ()
