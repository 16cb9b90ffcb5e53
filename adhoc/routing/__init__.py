"""Which engine a new session runs on.

    router = FirstReachable(engines, probe_ttl_s=5, clock=time.monotonic)
    route = await router.route(principal_name, requested="k8s")   # -> Route, or EngineUnavailable

This is the seam the YARN/K8s capacity router replaces: for now the first reachable engine (in
config order) that matches the requested route wins. Probes are TCP connects, cached per engine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from adhoc.engines import Engine
from adhoc.errors import EngineUnavailable, PermissionDenied


@dataclass(frozen=True)
class Route:
    engine: Engine
    reason: str
    queued_ms: int = 0


@dataclass(frozen=True)
class Probe:
    engine: str
    available: bool
    reason: str
    checked_at: float


EngineFilter = Callable[[Engine], bool]


def any_engine(engine: Engine) -> bool:
    return True


class Router(Protocol):
    async def route(self, user: str, requested: str | None, allowed: EngineFilter = any_engine) -> Route: ...

    def engines(self) -> Sequence[Engine]: ...

    def probes(self) -> Sequence[Probe]: ...

    async def probe(self, engine: Engine) -> Probe: ...


class FirstReachable:
    def __init__(
        self,
        engines: Sequence[Engine],
        *,
        probe_ttl_s: float = 5.0,
        connect_timeout_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engines = list(engines)
        self._ttl = probe_ttl_s
        self._timeout = connect_timeout_s
        self._clock = clock
        self._probes: dict[str, Probe] = {}

    def engines(self) -> Sequence[Engine]:
        return self._engines

    def probes(self) -> Sequence[Probe]:
        return [self._probes[e.name] for e in self._engines if e.name in self._probes]

    def candidates(self, requested: str | None) -> list[Engine]:
        if not requested:
            return list(self._engines)
        wanted = requested.strip().lower()
        matching = [e for e in self._engines if wanted in (e.name.lower(), e.kind)]
        if not matching:
            names = ", ".join(sorted({e.name for e in self._engines} | {e.kind for e in self._engines}))
            raise PermissionDenied(f"unknown route {requested!r}: this gateway offers {names}")
        return matching

    async def route(self, user: str, requested: str | None, allowed: EngineFilter = any_engine) -> Route:
        tried: list[str] = []
        candidates = [e for e in self.candidates(requested) if allowed(e)]
        if not candidates:
            what = f"route {requested!r}" if requested else "any engine of this gateway"
            raise PermissionDenied(f"permission denied: {user} may not use {what} (policy routes)")
        for engine in candidates:
            probe = await self.probe(engine)
            if probe.available:
                why = f"requested route {requested!r}" if requested else "first reachable engine"
                skipped = f" ({'; '.join(tried)})" if tried else ""
                return Route(engine, f"{why}{skipped}")
            tried.append(f"{engine.name}: {probe.reason}")
        raise EngineUnavailable("no engine can take a new session: " + "; ".join(tried))

    async def probe(self, engine: Engine) -> Probe:
        now = self._clock()
        cached = self._probes.get(engine.name)
        if cached is not None and now - cached.checked_at < self._ttl:
            return cached
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(engine.host, engine.port), self._timeout)
            writer.close()
            probe = Probe(engine.name, True, f"reachable at {engine.address}", now)
        except (OSError, TimeoutError) as e:
            probe = Probe(engine.name, False, f"unreachable at {engine.address} ({e or 'timed out'})", now)
        self._probes[engine.name] = probe
        return probe

    def forget(self, engine: Engine) -> None:
        """Drop a cached probe, e.g. after a connect to the engine failed."""
        self._probes.pop(engine.name, None)
