"""The router a gateway (or `adhoc route explain`) runs, from the config: one probe per engine."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from adhoc.config import Config
from adhoc.engines import Engine
from adhoc.routing.clock import Clock
from adhoc.routing.k8s import ResourceQuotaProbe
from adhoc.routing.metrics import RoutingMetrics
from adhoc.routing.probing import Probe, TcpProbe, ThriftAndCapacity
from adhoc.routing.route import GroupLimits, no_limits
from adhoc.routing.router import CapacityRouter
from adhoc.routing.yarn import ResourceManagerProbe


def engine_probes(config: Config, engines: Sequence[Engine]) -> dict[str, Probe]:
    timeout = config.routing.probe_timeout_s
    tcp = TcpProbe(timeout)
    probes: dict[str, Probe] = {}
    for engine in engines:
        if engine.yarn is not None:
            probes[engine.name] = ThriftAndCapacity(tcp, ResourceManagerProbe(engine.yarn, timeout_s=timeout))
        elif engine.k8s is not None:
            settings = dataclasses.replace(engine.k8s, kubeconfig=config.resolve(engine.k8s.kubeconfig))
            probes[engine.name] = ThriftAndCapacity(tcp, ResourceQuotaProbe(settings, timeout_s=timeout))
        else:
            probes[engine.name] = tcp  # local: reachable = available
    return probes


def build_router(
    config: Config,
    engines: Sequence[Engine],
    *,
    registry: CollectorRegistry | None = None,
    limits: GroupLimits = no_limits,
    clock: Clock | None = None,
    probe_ttl_s: float | None = None,
) -> CapacityRouter:
    routing = config.routing
    return CapacityRouter(
        engines,
        engine_probes(config, engines),
        policy=routing.policy,
        probe_ttl_s=routing.probe_ttl_s if probe_ttl_s is None else probe_ttl_s,
        queue_timeout_s=routing.queue_timeout_s,
        limits=limits,
        clock=clock,
        metrics=RoutingMetrics(registry),
    )
