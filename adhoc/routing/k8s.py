"""The Kubernetes probe: headroom in the engine namespace's ResourceQuota(s).

`quota_headroom()` turns quota objects (`status.hard`, `status.used`) into free CPU, memory and
pods without I/O: hard − used per resource, `requests.*` and `limits.*` (and bare `cpu`/`memory`,
which mean requests), the tightest of them and of all the namespace's quotas when no `quota` is
named; quantities parsed the way the API writes them (`500m`, `1.5`, `128Gi` = `131072Mi`).

`ResourceQuotaProbe` reads the quotas with the official `kubernetes` client (kubeconfig, or the
in-cluster service account) in a worker thread, with short connect/read timeouts and no retries,
so a hanging API server costs one timeout and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from adhoc.engines import Engine, K8sQuota
from adhoc.routing.figures import Figures, QuotaHeadroom, Unreachable

CPU_KEYS = ("requests.cpu", "limits.cpu", "cpu")
MEMORY_KEYS = ("requests.memory", "limits.memory", "memory")
POD_KEYS = ("pods", "count/pods")


@dataclass(frozen=True)
class QuotaStatus:
    name: str
    hard: Mapping[str, str]
    used: Mapping[str, str]


def quota_headroom(quotas: Sequence[QuotaStatus], settings: K8sQuota) -> QuotaHeadroom:
    from kubernetes.utils import quantity

    parse_quantity = cast(Any, quantity).parse_quantity

    def free(quota: QuotaStatus, keys: tuple[str, ...]) -> Decimal | None:
        room = [parse_quantity(quota.hard[k]) - parse_quantity(quota.used.get(k, "0")) for k in keys if k in quota.hard]
        return min(room, default=None)

    best: tuple[float, QuotaStatus, Decimal | None, Decimal | None, Decimal | None] | None = None
    cpu = memory = pods = None
    for quota in quotas:
        q_cpu, q_mem, q_pods = free(quota, CPU_KEYS), free(quota, MEMORY_KEYS), free(quota, POD_KEYS)
        cpu, memory, pods = _least(cpu, q_cpu), _least(memory, q_mem), _least(pods, q_pods)
        tightness = min(
            float(q_cpu) / settings.min_free_cpu if q_cpu is not None and settings.min_free_cpu else float("inf"),
            float(q_mem) / settings.min_free_memory if q_mem is not None and settings.min_free_memory else float("inf"),
            float(q_pods) if q_pods is not None else float("inf"),
        )
        if best is None or tightness < best[0]:
            best = (tightness, quota, q_cpu, q_mem, q_pods)
    return QuotaHeadroom(
        namespace=settings.namespace,
        quota=best[1].name if best else "",
        free_cpu=None if cpu is None else float(cpu),
        free_memory=None if memory is None else int(memory),
        free_pods=None if pods is None else int(pods),
        min_free_cpu=settings.min_free_cpu,
        min_free_memory=settings.min_free_memory,
    )


def _least(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return b if a is None else a if b is None else min(a, b)


class ResourceQuotaProbe:
    """Reads one k8s engine's quota; `kubeconfig` is already resolved against the config file."""

    def __init__(self, settings: K8sQuota, *, timeout_s: float = 2.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._api: Any = None
        self._lock = threading.Lock()

    async def check(self, engine: Engine) -> Figures:
        if self._api is None:  # importing and setting up the client is local work: not timed
            try:
                await asyncio.to_thread(self._core_api)
            except Exception as e:  # a broken kubeconfig, no in-cluster service account, ...
                return Unreachable(f"the Kubernetes client could not be set up: {_short(e)}")
        try:
            # The client's own timeouts bound each request; this bounds the whole probe regardless.
            return await asyncio.wait_for(asyncio.to_thread(self._check), self.timeout_s * 2 + 1)
        except TimeoutError:
            return Unreachable(f"the Kubernetes API did not answer within {self.timeout_s * 2 + 1:g}s")

    def _check(self) -> Figures:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        s = self.settings
        timeout = (self.timeout_s, self.timeout_s)
        try:
            api = self._core_api()
            if s.quota:
                items = [api.read_namespaced_resource_quota(s.quota, s.namespace, _request_timeout=timeout)]
            else:
                items = api.list_namespaced_resource_quota(s.namespace, _request_timeout=timeout).items
        except ApiException as e:
            return Unreachable(self._api_error(e))
        except HTTPError as e:
            reason = getattr(e, "reason", None) or e
            return Unreachable(f"the Kubernetes API could not be reached ({_short(reason)})")
        except Exception as e:  # a broken kubeconfig, no in-cluster service account, ...
            return Unreachable(f"the Kubernetes client could not be set up: {_short(e)}")
        quotas = [QuotaStatus(q.metadata.name, (q.status and q.status.hard) or {}, (q.status and q.status.used) or {})
                  for q in items]  # fmt: skip
        try:
            return quota_headroom(quotas, s)
        except (ValueError, ArithmeticError) as e:
            return Unreachable(f"namespace {s.namespace}: a quota quantity could not be read ({e})")

    def _api_error(self, e: Any) -> str:
        s = self.settings
        if e.status == 404 and s.quota:
            return f"ResourceQuota {s.quota} not found in namespace {s.namespace}"
        if e.status == 403:
            return f"the Kubernetes API refused to show quotas in namespace {s.namespace} (403 Forbidden)"
        return f"the Kubernetes API answered {e.status} {e.reason} for namespace {s.namespace}"

    def _core_api(self) -> Any:
        with self._lock:
            if self._api is None:
                from kubernetes import client, config

                configuration = client.Configuration()
                if self.settings.kubeconfig:
                    cast(Any, config).load_kube_config(self.settings.kubeconfig, client_configuration=configuration)
                else:
                    cast(Any, config).load_incluster_config(client_configuration=configuration)
                configuration.retries = 0  # a refused or hanging API costs one timeout, not four
                self._api = client.CoreV1Api(client.ApiClient(configuration))
            return self._api

    async def close(self) -> None:
        if self._api is not None:
            await asyncio.to_thread(self._api.api_client.close)


def _short(error: object) -> str:
    text = str(error)
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return text.splitlines()[0][:200] if text else type(error).__name__
