"""The gateway's log collection: one `Collector` per k8s engine, started and stopped as one part.

    logs = LogCollection(config, data_dir)     # a lifecycle Service; no k8s engine → does nothing
    await logs.start()
    logs.session_cost(session_id)              # float, or None when no pod of it was ever seen
    logs.live_pod(session_id, "driver-1")      # (collector, PodInfo) while the API has the pod
    await logs.stored_logs(session_id, days)   # pod → store key, from the ledger and the store

It needs only the K8s API and the store: an engine whose Thrift endpoint is down still has its pods
collected, and an unreachable API or store is retried in the background, never fatal at start.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncGenerator, Callable, Iterable
from datetime import date
from typing import Any

from adhoc.config import Config, EngineConfig
from adhoc.errors import ConfigError, LogStoreError
from adhoc.logs.collector import Collector, PodClaims, container_header
from adhoc.logs.cost import Pricing
from adhoc.logs.pods import PodInfo
from adhoc.logs.source import KubePodSource, PodSource
from adhoc.logs.store import LogStore

log = logging.getLogger("adhoc.logs")
SourceFactory = Callable[[str, str], PodSource]


def engine_pricing(config: Config, engine: EngineConfig) -> Pricing:
    base = config.pricing
    return Pricing(
        cpu_core_hour=engine.cpu_core_hour if engine.cpu_core_hour >= 0 else base.cpu_core_hour,
        memory_gib_hour=engine.memory_gib_hour if engine.memory_gib_hour >= 0 else base.memory_gib_hour,
    )


class LogCollection:
    def __init__(
        self, config: Config, data_dir: str, *, source_factory: SourceFactory = KubePodSource.from_kubeconfig
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.collectors: dict[str, Collector] = {}
        self.store: LogStore | None = None
        self._source_factory = source_factory
        self.claims: PodClaims | None = None  # with [ha]: one replica stores each pod's log

    @property
    def name(self) -> str:
        return "log collectors"

    @property
    def enabled(self) -> bool:
        return any(e.kind == "k8s" for e in self.config.effective_engines())

    async def start(self) -> None:
        config = self.config
        engines = [(i, e) for i, e in enumerate(config.effective_engines()) if e.kind == "k8s"]
        if not engines:
            return
        url = config.logs.store_url(self.data_dir)
        try:
            self.store = LogStore(url, config.logs.storage_options)
        except LogStoreError as e:
            raise ConfigError(e.message, file=config.source, key="logs.store") from None
        spool = config.resolve(os.path.expanduser(config.logs.spool_path(self.data_dir)))
        for i, engine in engines:
            kubeconfig = engine.kubeconfig
            if kubeconfig not in ("", "in-cluster"):
                kubeconfig = config.resolve(os.path.expanduser(kubeconfig))
            try:
                source = self._source_factory(kubeconfig, engine.namespace)
            except Exception as e:
                raise ConfigError(f"cannot use it: {e}", file=config.source, key=f"engines[{i}].kubeconfig") from None
            pricing = engine_pricing(config, engine)
            collector = Collector(engine.name, source, self.store, os.path.join(spool, engine.name), pricing=pricing,
                                  claims=self.claims)  # fmt: skip
            await collector.start()
            self.collectors[engine.name] = collector
            log.info("collecting engine logs of %s (namespace %s) into %s", engine.name, source.namespace, url)

    async def stop(self) -> None:
        for collector in self.collectors.values():
            await collector.stop()
        self.collectors.clear()
        if self.store is not None:
            self.store.close()

    # -- the session registry's listener: k8s sessions answer their cost --

    def session_opened(self, record: Any) -> None:
        if record.route == "k8s":
            session_id = record.session_id
            record.cost_estimate = lambda: self.session_cost(session_id)
            if not record.logs_url:  # the link to /logs/<session_id>/, unless the UI links set it already
                record.logs_url = f"{self.config.server.base_url()}/logs/{session_id}/"

    def session_changed(self, record: Any) -> None:
        pass

    def session_closed(self, record: Any) -> None:
        pass

    # -- queries --

    def session_cost(self, session_id: str) -> float | None:
        costs = [c for c in (col.session_cost(session_id) for col in self.collectors.values()) if c is not None]
        return sum(costs) if costs else None

    def live_pods(self, session_id: str) -> list[tuple[Collector, PodInfo]]:
        return [(c, pod) for c in self.collectors.values() for pod in c.session_pods(session_id)]

    def live_pod(self, session_id: str, name: str) -> tuple[Collector, PodInfo] | None:
        return next(((c, p) for c, p in self.live_pods(session_id) if p.name == name), None)

    async def stored_logs(self, session_id: str, days: Iterable[date]) -> dict[str, str]:
        """Pod name → store key of the session's stored logs: this gateway's ledger, plus a listing of
        the session's directory on each of `days` (pods stored by another replica or an older run)."""
        found: dict[str, str] = {}
        for collector in self.collectors.values():
            for usage in collector.usage.session(session_id):
                if usage.key:
                    found[usage.pod] = usage.key
        if self.store is not None:
            for day in days:
                prefix = f"{day:%Y/%m/%d}/{session_id}"
                try:
                    names = await self.store.list_logs(prefix)
                except LogStoreError as e:
                    log.warning("%s", e.message)
                    continue
                for name in names:
                    found.setdefault(name[: -len(".log")], f"{prefix}/{name}")
        return found

    async def read_live(self, collector: Collector, pod: PodInfo) -> AsyncGenerator[bytes, None]:
        """A pod's log from the K8s API: like the stored one, the last container followed while it runs."""
        source = collector.source
        for i, container in enumerate(pod.containers):
            if i:
                yield container_header(container)
            last = i == len(pod.containers) - 1
            async for chunk in source.read_log(pod.name, container, follow=last and not pod.ended):
                yield chunk
