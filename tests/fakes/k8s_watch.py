"""Watch streams, pod logs and careful deletes for the fake K8s API (tests/fakes/k8s_api.py).

Behaviour copied from the API server, because the collector's correctness depends on it:
- a watch (`?watch=true`) from resourceVersion N replays every change after N, then streams live
  ones as JSON lines `{"type", "object"}`; with `allowWatchBookmarks=true` a BOOKMARK (an object with
  only `metadata.resourceVersion`) comes every `bookmark_interval_s`; the stream ends after
  `timeoutSeconds`. An N older than the compaction point gets one `ERROR` event whose object is a
  410 Gone Status (HTTP 200 — that is how the real server says it).
- `.../pods/{name}/log`: the container's text as it is; `container=` is required when the pod has
  more than one container; a container with no log yet → 400 "waiting to start"; `follow=true`
  streams appended text until the pod has ended or is gone.
- DELETE honours `preconditions.uid` (409 Conflict for another uid).

Test knobs: `compact()`, `drop_watches()`, `append_log()`, `log_bytes_per_s` (a slow log),
`delete_delay_s` (a DELETE held before it is applied), and the records `deletions`, `log_reads`.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.k8s_api import FakeKubeApi

CHUNK = 64 * 1024
ENDED = ("Succeeded", "Failed")


def pod_object(
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    phase: str = "Running",
    containers: tuple[str, ...] = ("spark-kubernetes-driver",),
    init_containers: tuple[str, ...] = (),
    cpu: str = "1",
    memory: str = "1Gi",
    created: str | None = None,
    finished: str | None = None,
) -> dict[str, Any]:
    """A v1 Pod as a Spark driver/executor looks: requests per container, status per phase."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ended = phase in ENDED
    state = {"terminated": {"exitCode": 0 if phase == "Succeeded" else 1, "finishedAt": finished or now}}
    meta: dict[str, Any] = {"name": name, "labels": dict(labels or {})}
    if created:
        meta["creationTimestamp"] = created
    return {
        "metadata": meta,
        "spec": {
            "initContainers": [{"name": c, "image": "busybox"} for c in init_containers],
            "containers": [
                {"name": c, "image": "spark:4.0", "resources": {"requests": {"cpu": cpu, "memory": memory}}}
                for c in containers
            ],
        },
        "status": {
            "phase": phase,
            "startTime": created or now,
            "containerStatuses": [
                {"name": c, "ready": not ended, "state": state if ended else {"running": {"startedAt": created or now}}}
                for c in containers
            ],
        },
    }


class WatchHub:
    def __init__(self, api: FakeKubeApi) -> None:
        self.api = api
        self.history: list[tuple[int, str, str, str, dict[str, Any]]] = []  # rv, plural, ns, type, object
        self.oldest = 0  # a watch from below this resourceVersion is 410 Gone
        self.bookmark_interval_s = 1.0
        self.logs: dict[tuple[str, str, str], bytearray] = {}
        self.log_bytes_per_s = 0.0  # > 0: logs are served this slowly
        self.delete_delay_s = 0.0
        self.deletions: list[tuple[str, str, str]] = []  # namespace, name, uid of each pod deleted
        self.log_reads: list[tuple[str, str, str, bool]] = []  # namespace, pod, container, follow
        self._wakeups: set[asyncio.Event] = set()
        self._streams: dict[int, web.Request] = {}
        self._expire_open = False

    # -- test side (any thread) --

    def record(self, plural: str, namespace: str, kind: str, obj: dict[str, Any]) -> None:
        """Called under the api's lock for every change."""
        self.history.append((int(obj["metadata"]["resourceVersion"]), plural, namespace, kind, copy.deepcopy(obj)))
        if kind == "DELETED" and plural == "pods":
            self.deletions.append((namespace, obj["metadata"]["name"], obj["metadata"]["uid"]))
        self._wake()

    def append_log(self, namespace: str, pod: str, container: str, data: bytes) -> None:
        self.logs.setdefault((namespace, pod, container), bytearray()).extend(data)
        self._wake()

    def compact(self, *, expire_open: bool = False) -> None:
        """Forget history: watches from any resourceVersion seen so far get 410 Gone."""
        self.oldest = int(self.api.resource_version) + 1
        self._expire_open = expire_open
        self._wake()

    def drop_watches(self) -> None:
        """Reset every open watch and followed log mid-stream (a proxy or API server restart)."""

        def drop() -> None:
            for request in list(self._streams.values()):
                if request.transport is not None:
                    request.transport.abort()

        self.api._loop.call_soon_threadsafe(drop)

    def _wake(self) -> None:
        def wake() -> None:
            for event in self._wakeups:
                event.set()

        self.api._loop.call_soon_threadsafe(wake)

    # -- HTTP (the server's loop) --

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v1/namespaces/{namespace}/pods/{name}/log", self.handle_log)

    async def _wait(self, wakeup: asyncio.Event, timeout: float) -> None:
        try:
            async with asyncio.timeout(max(0.0, timeout)):  # not wait_for: it can swallow a cancel (3.11)
                await wakeup.wait()
        except TimeoutError:
            pass
        wakeup.clear()

    async def handle_watch(self, request: web.Request) -> web.StreamResponse:
        from tests.fakes.k8s_api import matches_labels, status_object

        plural, namespace = request.match_info["plural"], request.match_info.get("namespace")
        selector = request.query.get("labelSelector", "")
        since = int(request.query.get("resourceVersion") or 0)
        bookmarks = request.query.get("allowWatchBookmarks") in ("true", "1")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(request.query.get("timeoutSeconds") or 1800)
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)

        async def send(kind: str, obj: Mapping[str, Any]) -> None:
            await resp.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")

        if since and since < self.oldest:
            await send("ERROR", status_object(410, f"too old resource version: {since} ({self.oldest})"))
            return resp
        wakeup = asyncio.Event()
        self._wakeups.add(wakeup)
        self._streams[id(request)] = request
        try:
            position = 0
            if not since:  # "from now": the current objects as ADDED, then changes
                for obj in self.api.list(plural, namespace):
                    if matches_labels(obj, selector):
                        await send("ADDED", obj)
                since = int(self.api.resource_version)
            next_bookmark = loop.time() + self.bookmark_interval_s
            while loop.time() < deadline:
                if self._expire_open:
                    await send("ERROR", status_object(410, "too old resource version"))
                    return resp
                while position < len(self.history):
                    rv, p, ns, kind, obj = self.history[position]
                    position += 1
                    if rv > since and p == plural and namespace in (None, ns):
                        since = rv
                        if matches_labels(obj, selector):
                            await send(kind, obj)
                if bookmarks and loop.time() >= next_bookmark:
                    await send(
                        "BOOKMARK", {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": str(since)}}
                    )
                    next_bookmark = loop.time() + self.bookmark_interval_s
                await self._wait(wakeup, min(deadline, next_bookmark) - loop.time())
            await resp.write_eof()
        except (ConnectionResetError, RuntimeError):
            pass  # the client went away or the stream was dropped on purpose
        finally:
            self._wakeups.discard(wakeup)
            self._streams.pop(id(request), None)
        return resp

    async def check_delete(self, request: web.Request, plural: str, namespace: str, name: str) -> web.Response | None:
        from tests.fakes.k8s_api import status_response

        if self.delete_delay_s:
            await asyncio.sleep(self.delete_delay_s)
        body: dict[str, Any] = {}
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                return status_response(400, "the request body is not valid JSON")
        uid = ((body or {}).get("preconditions") or {}).get("uid")
        current = self.api.get(plural, namespace, name)
        if uid and current is not None and current["metadata"]["uid"] != uid:
            return status_response(
                409,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: {current['metadata']['uid']}",
                reason="Conflict",
            )
        return None

    async def handle_log(self, request: web.Request) -> web.StreamResponse:
        from tests.fakes.k8s_api import status_response

        namespace, name = request.match_info["namespace"], request.match_info["name"]
        pod = self.api.get("pods", namespace, name)
        if pod is None:
            return status_response(404, f'pods "{name}" not found', details={"name": name, "kind": "pods"})
        main = [c["name"] for c in pod["spec"].get("containers") or []]
        init = [c["name"] for c in pod["spec"].get("initContainers") or []]
        container = request.query.get("container") or (main[0] if len(main) == 1 and not init else "")
        if not container:
            return status_response(
                400, f"a container name must be specified for pod {name}, choose one of: [{' '.join(main)}]"
            )
        if container not in main + init:
            return status_response(400, f"container {container} is not valid for pod {name}")
        key = (namespace, name, container)
        if key not in self.logs:
            return status_response(
                400, f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
            )
        follow = request.query.get("follow") in ("true", "1")
        self.log_reads.append((namespace, name, container, follow))
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        wakeup = asyncio.Event()
        self._wakeups.add(wakeup)
        self._streams[id(request)] = request
        position = 0
        try:
            while True:
                data = self.logs[key]
                if position < len(data):
                    chunk = bytes(data[position : position + CHUNK])
                    position += len(chunk)
                    await resp.write(chunk)
                    if self.log_bytes_per_s:
                        await asyncio.sleep(len(chunk) / self.log_bytes_per_s)
                    continue
                if not follow:
                    break
                current = self.api.get("pods", namespace, name)
                if current is None or current["status"].get("phase") in ENDED:
                    break
                await self._wait(wakeup, 0.5)
            await resp.write_eof()
        except (ConnectionResetError, RuntimeError):
            pass
        finally:
            self._wakeups.discard(wakeup)
            self._streams.pop(id(request), None)
        return resp
