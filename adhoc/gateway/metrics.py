"""Prometheus metrics, one registry per gateway (tests run several gateways in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections_open = Gauge("adhoc_connections_open", "Client connections open now", registry=r)
        self.connections = Counter("adhoc_connections", "Client connections accepted", registry=r)
        self.sessions_open = Gauge("adhoc_sessions_open", "HS2 sessions open now", registry=r)
        self.sessions = Counter("adhoc_sessions", "HS2 sessions opened", ["engine"], registry=r)
        self.calls = Counter("adhoc_calls", "Thrift calls handled", ["call"], registry=r)
        self.operations = Counter("adhoc_operations", "Operations started", ["engine"], registry=r)
        self.bytes_relayed = Counter(
            "adhoc_relayed_bytes", "Bytes relayed between clients and engines", ["direction"], registry=r
        )
        self.errors = Counter("adhoc_errors", "Errors by kind", ["kind"], registry=r)
        self.statements = Counter("adhoc_statements", "Statement decisions", ["decision"], registry=r)
        self.logins = Counter("adhoc_logins", "Login attempts", ["outcome"], registry=r)
        self.open_session_seconds = Histogram(
            "adhoc_open_session_seconds", "Time to open a session (routing, connect, engine)", registry=r
        )
        self.status_from_gateway = Counter(
            "adhoc_status_answered_by_gateway",
            "GetOperationStatus calls on ended operations answered from the engine's last reply",
            registry=r,
        )
        self._calls: dict[str, Counter] = {}  # label children, looked up once: this is the hot path
        self._allowed = self.statements.labels("allow")
        self._denied = self.statements.labels("deny")
        self._to_client = self.bytes_relayed.labels("to_client")
        self._to_engine = self.bytes_relayed.labels("to_engine")

    def relayed(self, to_engine: int, to_client: int) -> None:
        self._to_engine.inc(to_engine)
        self._to_client.inc(to_client)

    def call(self, name: str) -> None:
        child = self._calls.get(name)
        if child is None:
            child = self._calls[name] = self.calls.labels(name)
        child.inc()

    def status_answered_here(self) -> None:
        self.status_from_gateway.inc()

    def decision(self, allowed: bool) -> None:
        (self._allowed if allowed else self._denied).inc()

    def error(self, kind: str) -> None:
        self.errors.labels(kind).inc()
