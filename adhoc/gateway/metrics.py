"""Prometheus metrics, one registry per gateway (tests run several gateways in one process).

The counters every call touches (calls by name, bytes relayed, statuses answered here) are plain
integers read when /metrics is scraped: a prometheus_client Counter takes a lock per increment,
and Hive JDBC makes a call per row it reads.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector


class HotCounters(Collector):
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.to_engine = 0
        self.to_client = 0
        self.status_answered_here = 0

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily("adhoc_calls", "Thrift calls handled", labels=["call"])
        for name, count in sorted(self.calls.items()):
            calls.add_metric([name], count)
        yield calls
        relayed = CounterMetricFamily("adhoc_relayed_bytes", "Bytes relayed between clients and engines",
                                      labels=["direction"])  # fmt: skip
        relayed.add_metric(["to_engine"], self.to_engine)
        relayed.add_metric(["to_client"], self.to_client)
        yield relayed
        yield CounterMetricFamily(
            "adhoc_status_answered_by_gateway",
            "GetOperationStatus calls on ended operations answered from the engine's last status reply",
            value=self.status_answered_here,
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections_open = Gauge("adhoc_connections_open", "Client connections open now", registry=r)
        self.connections = Counter("adhoc_connections", "Client connections accepted", registry=r)
        self.sessions_open = Gauge("adhoc_sessions_open", "HS2 sessions open now", registry=r)
        self.sessions = Counter("adhoc_sessions", "HS2 sessions opened", ["engine"], registry=r)
        self.operations = Counter("adhoc_operations", "Operations started", ["engine"], registry=r)
        self.errors = Counter("adhoc_errors", "Errors by kind", ["kind"], registry=r)
        self.statements = Counter("adhoc_statements", "Statement decisions", ["decision"], registry=r)
        self.logins = Counter("adhoc_logins", "Login attempts", ["outcome"], registry=r)
        self.open_session_seconds = Histogram(
            "adhoc_open_session_seconds", "Time to open a session (routing, connect, engine)", registry=r
        )
        self.hot = HotCounters()
        r.register(self.hot)
        self._allowed = self.statements.labels("allow")
        self._denied = self.statements.labels("deny")

    def relayed(self, to_engine: int, to_client: int) -> None:
        hot = self.hot
        hot.to_engine += to_engine
        hot.to_client += to_client

    def call(self, name: str) -> None:
        calls = self.hot.calls
        calls[name] = calls.get(name, 0) + 1

    def status_answered_here(self) -> None:
        self.hot.status_answered_here += 1

    def decision(self, allowed: bool) -> None:
        (self._allowed if allowed else self._denied).inc()

    def error(self, kind: str) -> None:
        self.errors.labels(kind).inc()
