"""The YARN probe: how full is the engine's queue, from the ResourceManager's scheduler REST API.

`GET /ws/v1/cluster/scheduler` answers in one of two shapes (Hadoop's ResourceManager REST docs):
the Capacity Scheduler nests `queues.queue[]` under each parent, names are short (`adhoc`; Hadoop 3
adds `queuePath`) and load is `absoluteUsedCapacity` against `absoluteMaxCapacity` (percent of the
cluster); the Fair Scheduler nests `childQueues` under `rootQueue`, names are full paths
(`root.adhoc`) and load is `usedResources` against `maxResources` (memory MB, vCores).

`queue_load()` reads that JSON without I/O; `ResourceManagerProbe` fetches it, trying `rm_urls`
in order (the last one that answered first), following a standby's 307 to the active RM (even one
not listed), and giving each RM a short connect and read timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urljoin

import aiohttp

from adhoc.engines import Engine, YarnQueue
from adhoc.routing.figures import Figures, QueueLoad, Unreachable

SCHEDULER_PATH = "/ws/v1/cluster/scheduler"
MAX_REDIRECTS = 3


class QueueNotFound(ValueError):
    pass


def queue_load(body: Mapping[str, Any], settings: YarnQueue, rm_url: str = "") -> QueueLoad:
    """The engine's queue in a scheduler reply; QueueNotFound (with the reason) if it is not there."""
    info = body.get("scheduler", {}).get("schedulerInfo")
    if not isinstance(info, Mapping):
        raise QueueNotFound("the ResourceManager's reply has no scheduler.schedulerInfo")
    kind = info.get("type", "")
    if kind == "fairScheduler" or "rootQueue" in info:
        queues = dict(_fair_queues(info.get("rootQueue") or {}))
        scheduler = "fair"
    elif kind == "capacityScheduler" or "queues" in info:
        queues = dict(_capacity_queues(info, "root"))
        scheduler = "capacity"
    else:
        raise QueueNotFound(f"scheduler type {kind or '(none)'!r} is not the Capacity or Fair Scheduler")
    path = _resolve(settings.queue, queues)
    queue = queues[path]
    if scheduler == "capacity":
        used, pending = _capacity_used(queue), _int(queue.get("numPendingApplications"))
    else:
        used, pending = _fair_used(queue), _int(queue.get("numPendingApps"))
    return QueueLoad(path, scheduler, used, pending, settings.saturation, settings.max_pending_apps,
                     settings.session_share, rm_url)  # fmt: skip


def _children(queue: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """Child queues: `{"queue": [...]}`, a bare list (older Fair Scheduler), or one object."""
    value = queue.get(key)
    if isinstance(value, Mapping):
        value = value.get("queue", [])
    if isinstance(value, Mapping):
        return [value]
    return [q for q in value or [] if isinstance(q, Mapping)]


def _capacity_queues(queue: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for child in _children(queue, "queues"):
        child_path = str(child.get("queuePath") or f"{path}.{child.get('queueName', '')}")
        yield child_path, child
        yield from _capacity_queues(child, child_path)


def _fair_queues(queue: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for child in _children(queue, "childQueues"):
        yield str(child.get("queueName", "")), child
        yield from _fair_queues(child)


def _resolve(wanted: str, queues: Mapping[str, Mapping[str, Any]]) -> str:
    """A full path picks exactly that queue; a leaf name must name exactly one queue."""
    if "." in wanted:
        path = wanted if wanted.startswith("root.") else f"root.{wanted}"
        if path in queues:
            return path
        raise QueueNotFound(f"queue {wanted} not found in the scheduler")
    matches = [path for path in queues if path.rsplit(".", 1)[-1] == wanted]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise QueueNotFound(f"queue {wanted} not found in the scheduler")
    raise QueueNotFound(f"queue name {wanted} is ambiguous ({', '.join(sorted(matches))}): give the full path")


def _capacity_used(queue: Mapping[str, Any]) -> float:
    used, maximum = _num(queue.get("absoluteUsedCapacity")), _num(queue.get("absoluteMaxCapacity"))
    return 100.0 if maximum <= 0 else used / maximum * 100


def _fair_used(queue: Mapping[str, Any]) -> float:
    used, maximum = queue.get("usedResources") or {}, queue.get("maxResources") or {}
    shares = [_num(used.get(r)) / _num(maximum.get(r)) * 100 for r in ("memory", "vCores") if _num(maximum.get(r)) > 0]
    return max(shares, default=0.0)


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _int(value: Any) -> int:
    return int(_num(value))


class ResourceManagerProbe:
    """Fetches the scheduler from the first RM that answers; one per yarn engine."""

    def __init__(self, settings: YarnQueue, *, timeout_s: float = 2.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._order = list(settings.rm_urls)  # the RM that answered last goes first
        self._session: aiohttp.ClientSession | None = None

    async def check(self, engine: Engine) -> Figures:
        failures: list[str] = []
        for base in list(self._order):
            try:
                body, answered_by = await self._fetch(base.rstrip("/") + SCHEDULER_PATH)
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as e:
                failures.append(f"{base}: {_describe(e)}")
                continue
            self._order.remove(base)
            self._order.insert(0, base)
            try:
                return queue_load(body, self.settings, answered_by)
            except QueueNotFound as e:
                return Unreachable(f"ResourceManager {answered_by}: {e}")
        return Unreachable("no ResourceManager could be reached (" + "; ".join(failures) + ")")

    async def _fetch(self, url: str) -> tuple[dict[str, Any], str]:
        session = self._client()
        for _ in range(MAX_REDIRECTS + 1):
            async with session.get(url, allow_redirects=False, headers={"Accept": "application/json"}) as resp:
                if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                    url = urljoin(url, resp.headers["Location"])  # a standby RM points at the active one
                    continue
                if resp.status != 200:
                    raise ValueError(f"HTTP {resp.status}")
                body = await resp.json(content_type=None)
                if not isinstance(body, dict):
                    raise ValueError("the reply is not a JSON object")
                return body, url.split("/ws/", 1)[0]
        raise ValueError(f"more than {MAX_REDIRECTS} redirects")

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.timeout_s, sock_connect=self.timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _describe(error: BaseException) -> str:
    if isinstance(error, asyncio.TimeoutError | TimeoutError):
        return "timed out"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"connection failed ({error.os_error.strerror or error.os_error})"
    return str(error) or type(error).__name__
