"""Routing in Prometheus: sessions routed by engine and why, queue waits and timeouts, and — read
from the router at scrape time — the queue (length, each waiter's position and wait) and each
engine's availability from its last figures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from adhoc.routing.route import Route
    from adhoc.routing.router import CapacityRouter


class RoutingMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.routed_sessions = Counter(
            "adhoc_routed_sessions",
            "Sessions routed, by engine and how it was chosen (preferred, fallback, queued, rerouted)",
            ["engine", "reason"],
            registry=r,
        )
        self.refusals = Counter("adhoc_engine_refused_connections", "Routed engines that refused the connection",
                                ["engine"], registry=r)  # fmt: skip
        self.queue_timeouts = Counter("adhoc_queue_timeouts", "Sessions that waited queue_timeout_s in vain",
                                      registry=r)  # fmt: skip
        self.queue_wait = Histogram("adhoc_queue_wait_seconds", "Time admitted sessions waited in the queue",
                                    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900), registry=r)  # fmt: skip
        self._router: CapacityRouter | None = None

    def watch(self, router: CapacityRouter) -> None:
        if self._router is None:
            self._router = router
            self.registry.register(_QueueCollector(router))

    def routed(self, route: Route, how: str, waited_s: float | None = None) -> None:
        self.routed_sessions.labels(route.engine.name, how).inc()
        if waited_s is not None:
            self.queue_wait.observe(waited_s)

    def refused(self, engine: str) -> None:
        self.refusals.labels(engine).inc()

    def timed_out(self) -> None:
        self.queue_timeouts.inc()


class _QueueCollector(Collector):
    def __init__(self, router: CapacityRouter) -> None:
        self.router = router

    def collect(self) -> Iterator[Metric]:
        queue = [entry for entry in self.router.queue() if not entry.replica]  # this replica's: sums over a fleet
        yield GaugeMetricFamily("adhoc_queue_length", "Sessions waiting in the queue now", value=len(queue))
        waiters = GaugeMetricFamily("adhoc_queue_waiter_seconds", "How long each waiting session has waited",
                                    labels=["position", "user"])  # fmt: skip
        for entry in queue:
            waiters.add_metric([str(entry.position), entry.user], entry.waited_s)
        yield waiters
        available = GaugeMetricFamily("adhoc_engine_available", "1 when the engine's last figures let it take a "
                                      "session, 0 when not", labels=["engine", "kind"])  # fmt: skip
        for engine in self.router.engines():
            snapshot = self.router.cache.last(engine)
            if snapshot is not None:
                ok = snapshot.figures.assess(self.router.placed(engine, snapshot)).available
                available.add_metric([engine.name, engine.kind], 1.0 if ok else 0.0)
        yield available
