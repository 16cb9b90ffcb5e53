"""A fake YARN ResourceManager on loopback: `GET /ws/v1/cluster/scheduler` in both formats.

The JSON is the shape Hadoop's ResourceManager REST docs give (Cluster Scheduler API):

- Capacity Scheduler: `scheduler.schedulerInfo` of type `capacityScheduler` with nested
  `queues.queue[]`; each queue has its short `queueName` (and, as Hadoop 3 adds, `queuePath`),
  `capacity`/`usedCapacity`/`maxCapacity` (percent of the parent), `absoluteCapacity`/
  `absoluteUsedCapacity`/`absoluteMaxCapacity` (percent of the cluster), `resourcesUsed`; leaves
  are `capacitySchedulerLeafQueueInfo` with `numActiveApplications`/`numPendingApplications`.
- Fair Scheduler: `schedulerInfo` of type `fairScheduler` with `rootQueue`, whose `childQueues`
  is `{"queue": [...]}`; names are full paths (`root.adhoc`), resources are
  `{"memory": MB, "vCores": n}` in `usedResources`/`maxResources`/...; leaves are
  `fairSchedulerLeafQueueInfo` with `numPendingApps`/`numActiveApps`.

    rm = FakeResourceManager.capacity().start()
    rm.set_queue("root.bi.adhoc", used=95.0, max=50.0, pending=3)   # absolute percentages
    rm.standby(active=other_rm.url)   # answers 307 + Location, like a standby RM in HA
    rm.refuse() / rm.hang() / rm.resume()
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any, Literal

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

SchedulerType = Literal["capacity", "fair"]
CLUSTER_MEMORY_MB = 1_048_576  # 1 TiB
CLUSTER_VCORES = 512


@dataclass(frozen=True)
class QueueState:
    """One queue's load. Capacity: absolute percentages of the cluster. Fair: memory MB / vCores."""

    used: float = 0.0  # capacity: absoluteUsedCapacity
    max: float = 100.0  # capacity: absoluteMaxCapacity
    pending: int = 0
    active: int = 0
    used_memory_mb: int = 0  # fair: usedResources
    used_vcores: int = 0
    max_memory_mb: int = CLUSTER_MEMORY_MB  # fair: maxResources
    max_vcores: int = CLUSTER_VCORES


class FakeResourceManager(LoopbackServer):
    def __init__(self, scheduler: SchedulerType = "capacity", *, queue_path_field: bool = True) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.queue_path_field = queue_path_field  # Hadoop 3 adds `queuePath`; 2.x has names only
        self.lock = threading.Lock()
        self.queues: dict[str, QueueState] = {"root.default": QueueState()}
        self.active_url = ""  # set: this RM is a standby that redirects there

    @classmethod
    def capacity(cls, **kw: Any) -> FakeResourceManager:
        return cls("capacity", **kw)

    @classmethod
    def fair(cls, **kw: Any) -> FakeResourceManager:
        return cls("fair", **kw)

    def set_queue(self, path: str, **load: Any) -> None:
        """Create or change a queue (full path from root); parents appear as needed."""
        with self.lock:
            self.queues[path] = replace(self.queues.get(path, QueueState()), **load)

    def standby(self, active: str) -> None:
        self.active_url = active.rstrip("/")

    def make_active(self) -> None:
        self.active_url = ""

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/ws/v1/cluster/scheduler", self.handle_scheduler)

    def error_response(self, request: web.Request, status: int) -> web.StreamResponse:
        body = {
            "RemoteException": {
                "exception": "WebApplicationException",
                "message": f"HTTP {status}",
                "javaClassName": "javax.ws.rs.WebApplicationException",
            }
        }
        return web.json_response(body, status=status)

    async def handle_scheduler(self, request: web.Request) -> web.StreamResponse:
        if self.active_url:
            # What RMWebAppFilter does on a standby RM: a temporary redirect to the active one.
            location = self.active_url + request.path_qs
            return web.Response(
                status=307,
                headers={"Location": location},
                text=f"This is standby RM. The redirect url is: {location}\n",
            )
        with self.lock:
            queues = dict(self.queues)
        info = (
            capacity_scheduler_info(queues, self.queue_path_field)
            if self.scheduler == "capacity"
            else fair_scheduler_info(queues)
        )
        return web.json_response({"scheduler": {"schedulerInfo": info}})


def _tree(paths: list[str]) -> dict[str, list[str]]:
    """parent path -> child paths, for every queue path and its ancestors."""
    children: dict[str, list[str]] = {"root": []}
    for path in sorted(paths):
        parts = path.split(".")
        for depth in range(1, len(parts)):
            parent, child = ".".join(parts[:depth]), ".".join(parts[: depth + 1])
            siblings = children.setdefault(parent, [])
            if child not in siblings:
                siblings.append(child)
            children.setdefault(child, [])
    return children


def _resources(memory: int, vcores: int) -> dict[str, int]:
    return {"memory": memory, "vCores": vcores}


def capacity_scheduler_info(queues: dict[str, QueueState], queue_path_field: bool = True) -> dict[str, Any]:
    children = _tree(list(queues))

    def queue(path: str, parent_abs_max: float) -> dict[str, Any]:
        state = queues.get(path, QueueState())
        kids = children.get(path, [])
        if kids and path not in queues:  # a parent: sums of its leaves
            leaves = [queue(k, 100.0) for k in kids]
            state = QueueState(
                used=sum(q["absoluteUsedCapacity"] for q in leaves), max=max(q["absoluteMaxCapacity"] for q in leaves)
            )
        memory = int(CLUSTER_MEMORY_MB * state.used / 100)
        vcores = int(CLUSTER_VCORES * state.used / 100)
        body: dict[str, Any] = {
            "absoluteCapacity": round(state.max / 2, 4),
            "absoluteMaxCapacity": state.max,
            "absoluteUsedCapacity": state.used,
            "capacity": round(state.max / 2 / parent_abs_max * 100, 4),
            "maxCapacity": round(min(100.0, state.max / parent_abs_max * 100), 4),
            "usedCapacity": round(state.used / (state.max / 2) * 100, 4) if state.max else 0.0,
            "numApplications": state.active + state.pending,
            "queueName": path.rsplit(".", 1)[-1],
            "resourcesUsed": _resources(memory, vcores),
            "state": "RUNNING",
            "usedResources": f"<memory:{memory}, vCores:{vcores}>",
        }
        if queue_path_field:
            body["queuePath"] = path
        if kids:
            body["queues"] = {"queue": [queue(k, state.max or 100.0) for k in kids]}
        else:
            body.update(
                {
                    "type": "capacitySchedulerLeafQueueInfo",
                    "numActiveApplications": state.active,
                    "numPendingApplications": state.pending,
                    "numContainers": state.active,
                    "maxApplications": 10000,
                    "maxApplicationsPerUser": 10000,
                    "userLimit": 100,
                    "userLimitFactor": 1.0,
                    "users": None,
                }
            )
        return body

    return {
        "type": "capacityScheduler",
        "capacity": 100.0,
        "usedCapacity": sum(q.used for q in queues.values()),
        "maxCapacity": 100.0,
        "queueName": "root",
        "queues": {"queue": [queue(k, 100.0) for k in children["root"]]},
    }


def fair_scheduler_info(queues: dict[str, QueueState]) -> dict[str, Any]:
    children = _tree(list(queues))
    cluster = _resources(CLUSTER_MEMORY_MB, CLUSTER_VCORES)

    def queue(path: str) -> dict[str, Any]:
        state = queues.get(path, QueueState())
        kids = children.get(path, [])
        body: dict[str, Any] = {
            "maxApps": 2147483647,
            "minResources": _resources(0, 0),
            "maxResources": _resources(state.max_memory_mb, state.max_vcores),
            "usedResources": _resources(state.used_memory_mb, state.used_vcores),
            "fairResources": _resources(state.max_memory_mb // 2, state.max_vcores // 2),
            "clusterResources": cluster,
            "queueName": path,
            "schedulingPolicy": "fair",
        }
        if kids:
            body["childQueues"] = {"queue": [queue(k) for k in kids]}
        else:
            body.update(
                {"type": "fairSchedulerLeafQueueInfo", "numPendingApps": state.pending, "numActiveApps": state.active}
            )
        return body

    return {"type": "fairScheduler", "rootQueue": queue("root")}
