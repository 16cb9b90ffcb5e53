"""An in-memory `PodSource`: pods as v1 JSON, a watch fed from a list of events, logs as bytes.

The loopback fake K8s API (tests/fakes/k8s_api.py) is the real-client counterpart; this one keeps
collector tests fast and lets a test fail exactly one call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from adhoc.errors import PodApiError, WatchExpired
from adhoc.logs.pods import SESSION_LABEL, PodInfo
from adhoc.logs.source import PodList, WatchEvent

END = "2026-12-03T10:00:00Z"


def pod_json(
    name: str,
    session: str | None = "s1",
    *,
    phase: str = "Running",
    containers: tuple[str, ...] = ("spark-kubernetes-driver",),
    init: tuple[str, ...] = (),
    labels: dict[str, str] | None = None,
    created: str = "2026-12-03T09:00:00Z",
    cpu: str = "1",
    memory: str = "1Gi",
    uid: str = "",
) -> dict[str, Any]:
    all_labels = dict(labels or {})
    if session is not None:
        all_labels[SESSION_LABEL] = session
    finished = phase in ("Succeeded", "Failed")
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "spark", "uid": uid or f"uid-{name}", "labels": all_labels,
                     "creationTimestamp": created, "resourceVersion": "1"},
        "spec": {
            "initContainers": [{"name": c} for c in init],
            "containers": [{"name": c, "resources": {"requests": {"cpu": cpu, "memory": memory}}} for c in containers],
        },
        "status": {
            "phase": phase,
            "startTime": created,
            "containerStatuses": [
                {"name": c, "state": {"terminated": {"finishedAt": END}} if finished else {"running": {}}}
                for c in containers
            ],
        },
    }  # fmt: skip


class FakePodSource:
    namespace = "spark"

    def __init__(self) -> None:
        self.pods: dict[str, dict[str, Any]] = {}
        self.logs: dict[tuple[str, str], bytes] = {}
        self.rv = 1
        self.deleted: list[str] = []
        self.log_reads: list[tuple[str, str]] = []
        self.fail_next: dict[str, PodApiError] = {}  # method name → error raised once
        self._watchers: list[asyncio.Queue[WatchEvent | BaseException | None]] = []

    # -- test side --

    def put(self, obj: dict[str, Any], logs: dict[str, bytes] | None = None) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        name = obj["metadata"]["name"]
        kind = "MODIFIED" if name in self.pods else "ADDED"
        self.pods[name] = obj
        for container, text in (logs or {}).items():
            self.logs[(name, container)] = text
        self._emit(WatchEvent(kind, obj["metadata"]["uid"], str(self.rv), PodInfo.from_json(obj)))

    def expire_watches(self) -> None:
        for q in self._watchers:
            q.put_nowait(WatchExpired())

    def _emit(self, event: WatchEvent) -> None:
        for q in self._watchers:
            q.put_nowait(event)

    def _maybe_fail(self, method: str) -> None:
        error = self.fail_next.pop(method, None)
        if error is not None:
            raise error

    # -- PodSource --

    async def list_pods(self) -> PodList:
        self._maybe_fail("list_pods")
        pods = tuple(p for p in (PodInfo.from_json(o) for o in self.pods.values()) if p is not None)
        return PodList(pods, str(self.rv))

    async def watch(self, resource_version: str, timeout_s: float) -> AsyncIterator[WatchEvent]:
        q: asyncio.Queue[WatchEvent | BaseException | None] = asyncio.Queue()
        self._watchers.append(q)
        try:
            while True:
                try:
                    # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
                    async with asyncio.timeout(timeout_s):
                        item = await q.get()
                except TimeoutError:
                    return
                if isinstance(item, BaseException):
                    raise item
                if item is None:
                    return
                yield item
        finally:
            self._watchers.remove(q)

    async def read_log(self, name: str, container: str, *, follow: bool = False) -> AsyncIterator[bytes]:
        self._maybe_fail("read_log")
        self.log_reads.append((name, container))
        if name not in self.pods:
            raise PodApiError("pod not found", 404)
        if (name, container) not in self.logs:
            raise PodApiError(f"container {container} is waiting to start", 400)
        text = self.logs[(name, container)]
        for i in range(0, len(text), 65536):
            yield text[i : i + 65536]
            await asyncio.sleep(0)

    async def get_pod(self, name: str) -> PodInfo | None:
        obj = self.pods.get(name)
        return PodInfo.from_json(obj) if obj else None

    async def delete_pod(self, name: str, uid: str) -> bool:
        self._maybe_fail("delete_pod")
        obj = self.pods.get(name)
        if obj is None or obj["metadata"]["uid"] != uid:
            return False
        del self.pods[name]
        self.deleted.append(name)
        self.rv += 1
        self._emit(WatchEvent("DELETED", uid, str(self.rv), PodInfo.from_json(obj)))
        return True

    async def close(self) -> None:
        pass


def utc(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()
