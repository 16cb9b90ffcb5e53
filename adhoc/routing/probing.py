"""Probes behind one small protocol, and the cache that makes them cheap.

    probe.check(engine) -> Figures      # TcpProbe, ResourceManagerProbe, ResourceQuotaProbe, fakes

`ProbeCache` keeps each engine's last figures for `ttl_s` and is single-flight: however many
sessions open at once, an engine is probed by one task per TTL and the rest await its answer, so a
burst of 200 opens costs one RM call and a hanging RM costs its timeout once, not per session.
It also counts the sessions placed on an engine since its figures were taken; they count against
its headroom until a fresh probe (which should reflect them) replaces the figures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from adhoc.engines import Engine
from adhoc.routing.clock import Clock
from adhoc.routing.figures import Figures, Reachable, Unreachable


class Probe(Protocol):
    async def check(self, engine: Engine) -> Figures: ...


class TcpProbe:
    """Is the engine's Thrift endpoint accepting connections?"""

    def __init__(self, timeout_s: float = 2.0) -> None:
        self.timeout_s = timeout_s

    async def check(self, engine: Engine) -> Figures:
        if engine.port == 0:
            return Reachable("", "the embedded engine, started by adhoc serve")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(engine.host, engine.port), self.timeout_s)
        except TimeoutError:
            return Unreachable(f"Thrift endpoint {engine.address} did not answer within {self.timeout_s:g}s")
        except OSError as e:
            return Unreachable(f"Thrift endpoint {engine.address} unreachable ({e.strerror or e})")
        writer.close()
        return Reachable(engine.address)


class ThriftAndCapacity:
    """A yarn/k8s engine is available when its Thrift endpoint answers AND its capacity allows."""

    def __init__(self, reachability: Probe, capacity: Probe) -> None:
        self.reachability = reachability
        self.capacity = capacity

    async def check(self, engine: Engine) -> Figures:
        reach, figures = await asyncio.gather(self.reachability.check(engine), self.capacity.check(engine))
        return reach if isinstance(reach, Unreachable) else figures

    async def close(self) -> None:
        closer = getattr(self.capacity, "close", None)
        if closer is not None:
            await closer()


@dataclass(frozen=True)
class Snapshot:
    figures: Figures
    taken_at: float


class ProbeCache:
    def __init__(self, probes: Mapping[str, Probe], *, ttl_s: float, clock: Clock) -> None:
        self.probes = dict(probes)
        self.ttl_s = ttl_s
        self.clock = clock
        self._snapshots: dict[str, Snapshot] = {}
        self._in_flight: dict[str, asyncio.Task[Snapshot]] = {}
        self._placed: dict[str, int] = {}
        self.probe_count: dict[str, int] = {}  # probes actually run, per engine (benchmarks, tests)

    def fresh(self, engine: Engine) -> Snapshot | None:
        snapshot = self._snapshots.get(engine.name)
        if snapshot is not None and self.clock.now() - snapshot.taken_at < self.ttl_s:
            return snapshot
        return None

    def last(self, engine: Engine) -> Snapshot | None:
        return self._snapshots.get(engine.name)

    async def get(self, engine: Engine) -> Snapshot:
        snapshot = self.fresh(engine)
        if snapshot is not None:
            return snapshot
        task = self._in_flight.get(engine.name)
        if task is None:
            task = asyncio.ensure_future(self._probe(engine))
            self._in_flight[engine.name] = task
            task.add_done_callback(lambda _: self._in_flight.pop(engine.name, None))
        return await asyncio.shield(task)  # a waiter that gives up must not cancel the others' probe

    async def get_all(self, engines: Sequence[Engine]) -> list[Snapshot]:
        fresh = [self.fresh(e) for e in engines]
        if all(s is not None for s in fresh):  # the warm path: no tasks, no trip through the loop
            return [s for s in fresh if s is not None]
        return list(await asyncio.gather(*(self.get(e) for e in engines)))

    async def _probe(self, engine: Engine) -> Snapshot:
        self.probe_count[engine.name] = self.probe_count.get(engine.name, 0) + 1
        placed_before = self.placed(engine)
        try:
            figures = await self.probes[engine.name].check(engine)
        except Exception as e:  # a probe bug must cost that engine, not the session
            figures = Unreachable(f"probe failed: {type(e).__name__}: {e}")
        snapshot = Snapshot(figures, self.clock.now())
        self._snapshots[engine.name] = snapshot
        # Fresh figures include what was placed before the probe started, not what came after.
        self._placed[engine.name] = max(0, self.placed(engine) - placed_before)
        return snapshot

    def placed(self, engine: Engine) -> int:
        return self._placed.get(engine.name, 0)

    def place(self, engine: Engine) -> None:
        self._placed[engine.name] = self._placed.get(engine.name, 0) + 1

    def unplace(self, engine: Engine) -> None:
        """A placement that did not happen after all (a fleet-wide cap refused it)."""
        self._placed[engine.name] = max(0, self._placed.get(engine.name, 0) - 1)

    def forget(self, engine: Engine) -> None:
        """Drop the engine's figures (its endpoint just refused us): the next route probes again."""
        self._snapshots.pop(engine.name, None)
        self._placed.pop(engine.name, None)

    def cancel(self) -> None:
        """Stop probes still running (the gateway is stopping)."""
        for task in list(self._in_flight.values()):
            task.cancel()

    def expires_in(self, engines: Sequence[Engine]) -> float:
        """Seconds until the soonest of these engines' figures go stale (0: one has none)."""
        now = self.clock.now()
        snapshots = [self._snapshots.get(e.name) for e in engines]
        ages = [self.ttl_s - (now - s.taken_at) if s else 0.0 for s in snapshots]
        return max(0.0, min(ages, default=self.ttl_s))
