"""Which engine a new session runs on — or that it waits, visibly, for one.

    router = build_router(config, engines, registry=metrics.registry, limits=authorizer.group_limits)
    route = await router.route(principal, requested="k8s", allowed=policy_allows)   # -> Route
    route = await router.reroute(route, "connection refused")   # the engine's endpoint refused us
    route.release()                                              # the session ended
    explanation = await router.explain(principal)                # `adhoc route explain`

Two hops to any behaviour: router.py decides and queues (the one place a route is chosen);
figures.py says when an engine can take a session and why; yarn.py / k8s.py / probing.py get the
figures (ResourceManager scheduler REST, namespace ResourceQuota, TCP reachability) behind one
`Probe` protocol, cached per TTL and single-flight; explain.py and metrics.py show it all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from adhoc.auth import Principal
from adhoc.engines import Engine
from adhoc.routing.build import build_router
from adhoc.routing.explain import EngineView, Explanation, QueueEntry
from adhoc.routing.route import EngineFilter, Route, any_engine
from adhoc.routing.router import CapacityRouter


class Router(Protocol):
    async def route(self, principal: Principal, requested: str | None, allowed: EngineFilter = any_engine) -> Route:
        """The engine for a new session (waiting in the queue if need be); PermissionDenied when the
        request names a route the user may not use, EngineUnavailable when the wait times out."""
        ...

    async def reroute(self, route: Route, failure: str) -> Route: ...

    async def explain(
        self, principal: Principal, requested: str | None = None, allowed: EngineFilter = any_engine
    ) -> Explanation: ...

    async def engine_views(self, engines: Sequence[Engine] | None = None) -> list[EngineView]: ...

    def queue(self) -> list[QueueEntry]: ...

    def status(self) -> dict[str, Any]: ...

    def refuse_waiting(self, reason: str) -> int: ...

    def engines(self) -> Sequence[Engine]: ...

    async def close(self) -> None: ...


__all__ = [
    "CapacityRouter",
    "EngineFilter",
    "EngineView",
    "Explanation",
    "QueueEntry",
    "Route",
    "Router",
    "any_engine",
    "build_router",
]
