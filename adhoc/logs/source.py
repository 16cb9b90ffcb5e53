"""Where pods come from: the `PodSource` interface, and the K8s API behind it.

    source = KubePodSource.from_kubeconfig("~/.kube/config", namespace="spark")
    listed = await source.list_pods()                        # PodList(pods, resource_version)
    async for event in source.watch(listed.resource_version, timeout_s=60): ...
    async for chunk in source.read_log("driver-1", "spark-kubernetes-driver", follow=False): ...
    await source.delete_pod("driver-1", uid)                 # only that uid, never a namesake

The official `kubernetes` client is synchronous: every call runs on the source's own threads with a
timeout, and streams (watch, log) hand their chunks to the event loop through a bounded queue, so a
slow API server never blocks the gateway and a slow reader never makes the gateway buffer a log.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from adhoc.errors import PodApiError, WatchExpired
from adhoc.logs.pods import SESSION_LABEL, PodInfo

T = TypeVar("T")
CHUNK = 64 * 1024
CALL_TIMEOUT = (5.0, 30.0)  # connect, read: for list/get/delete


@dataclass(frozen=True)
class PodList:
    pods: tuple[PodInfo, ...]
    resource_version: str


@dataclass(frozen=True)
class WatchEvent:
    """ADDED / MODIFIED / DELETED / BOOKMARK. `pod` is None when the object is not (or no longer) ours."""

    type: str
    uid: str
    resource_version: str
    pod: PodInfo | None = None


class PodSource(Protocol):
    namespace: str

    async def list_pods(self) -> PodList: ...

    def watch(self, resource_version: str, timeout_s: float) -> AsyncIterator[WatchEvent]: ...

    def read_log(self, name: str, container: str, *, follow: bool = False) -> AsyncIterator[bytes]: ...

    async def get_pod(self, name: str) -> PodInfo | None: ...

    async def delete_pod(self, name: str, uid: str) -> bool: ...

    async def close(self) -> None: ...


def parse_watch_line(line: bytes) -> WatchEvent:
    """One line of a watch stream. A 410 ERROR raises WatchExpired; other ERRORs raise PodApiError."""
    try:
        event = json.loads(line)
        kind, obj = event["type"], event["object"]
    except (ValueError, KeyError, TypeError):
        raise PodApiError(f"malformed watch event: {line[:200]!r}") from None
    if kind == "ERROR":
        code = int(obj.get("code") or 0) if isinstance(obj, dict) else 0
        if code == 410:
            raise WatchExpired()
        raise PodApiError(f"watch error: {obj.get('message') if isinstance(obj, dict) else obj}", code)
    meta = obj.get("metadata") or {}
    rv = str(meta.get("resourceVersion") or "")
    if kind == "BOOKMARK":
        return WatchEvent("BOOKMARK", "", rv)
    return WatchEvent(str(kind), str(meta.get("uid") or ""), rv, PodInfo.from_json(obj))


def split_lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        yield from (line for line in lines if line.strip())
    if buffer.strip():
        yield buffer


class ThreadStream:
    """Run a blocking producer of items on a thread and consume them with `async for`.

    At most `depth` items wait in between (the thread blocks, so a slow consumer slows the API read
    instead of filling memory); `close()` (or leaving the loop) stops the thread at its next item or
    when `on_close` breaks its blocking read.
    """

    _END = object()

    def __init__(self, produce: Callable[[ThreadStream], Iterator[Any]], depth: int = 8) -> None:
        self._produce = produce
        self._room = threading.Semaphore(depth)
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self.closed = False
        self.on_close: Callable[[], None] | None = None
        threading.Thread(target=self._run, name="adhoc-k8s-stream", daemon=True).start()

    def _run(self) -> None:
        try:
            for item in self._produce(self):
                self._room.acquire()
                if self.closed:
                    return
                self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
            self._loop.call_soon_threadsafe(self._queue.put_nowait, self._END)
        except BaseException as e:
            if not self.closed:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, e)
        finally:
            self.close_from_thread()

    def close_from_thread(self) -> None:
        if self.on_close is not None:
            try:
                self.on_close()
            except Exception:
                pass
            self.on_close = None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._room.release()
            close = self.on_close
            if close is not None:
                threading.Thread(target=self.close_from_thread, daemon=True).start()

    async def __aiter__(self) -> AsyncIterator[Any]:
        try:
            while True:
                item = await self._queue.get()
                self._room.release()
                if item is self._END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()


def _api_error(e: Exception, what: str) -> PodApiError:
    from kubernetes.client.exceptions import ApiException

    if isinstance(e, ApiException):
        if e.status == 410:
            return WatchExpired()
        reason = e.reason or ""
        try:
            reason = json.loads(e.body or "{}").get("message") or reason
        except (ValueError, AttributeError):
            pass
        return PodApiError(f"{what}: HTTP {e.status} {reason}", int(e.status or 0))
    return PodApiError(f"{what}: {type(e).__name__}: {e}")


class KubePodSource:
    """A `PodSource` over the official client, for one namespace and only `adhoc.io/session` pods."""

    def __init__(self, api_client: Any, namespace: str, *, threads: int = 8) -> None:
        from kubernetes import client

        self.namespace = namespace
        self._api_client = api_client
        # Any: with _preload_content=False the client returns raw urllib3 responses, not its models
        self._core: Any = client.CoreV1Api(api_client)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="adhoc-k8s")

    @staticmethod
    def from_kubeconfig(kubeconfig: str, namespace: str) -> KubePodSource:
        """`kubeconfig` = a file path, or "" / "in-cluster" for the pod's service account."""
        from kubernetes import client, config

        load: Any = config

        if kubeconfig in ("", "in-cluster"):
            configuration = client.Configuration()
            load.load_incluster_config(client_configuration=configuration)
            api_client = client.ApiClient(configuration)
        else:
            api_client = load.new_client_from_config(config_file=kubeconfig)
        return KubePodSource(api_client, namespace)

    async def _call(self, what: str, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except PodApiError:
            raise
        except Exception as e:
            raise _api_error(e, what) from None

    async def list_pods(self) -> PodList:
        def call() -> PodList:
            resp = self._core.list_namespaced_pod(
                self.namespace, label_selector=SESSION_LABEL, _preload_content=False, _request_timeout=CALL_TIMEOUT
            )
            body = json.loads(resp.data)
            pods = tuple(p for p in (PodInfo.from_json(item) for item in body.get("items") or []) if p is not None)
            return PodList(pods, str((body.get("metadata") or {}).get("resourceVersion") or ""))

        return await self._call(f"listing pods in {self.namespace}", call)

    async def get_pod(self, name: str) -> PodInfo | None:
        def call() -> PodInfo | None:
            resp = self._core.read_namespaced_pod(
                name, self.namespace, _preload_content=False, _request_timeout=CALL_TIMEOUT
            )
            return PodInfo.from_json(json.loads(resp.data))

        try:
            return await self._call(f"reading pod {name}", call)
        except PodApiError as e:
            if e.status == 404:
                return None
            raise

    async def delete_pod(self, name: str, uid: str) -> bool:
        from kubernetes import client

        def call() -> bool:
            # The uid precondition: a newer pod that took the same name is never deleted by mistake.
            body = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=uid))
            self._core.delete_namespaced_pod(
                name, self.namespace, body=body, _preload_content=False, _request_timeout=CALL_TIMEOUT
            )
            return True

        try:
            return await self._call(f"deleting pod {name}", call)
        except PodApiError as e:
            if e.status in (404, 409):  # gone already, or the name now belongs to another pod
                return False
            raise

    async def watch(self, resource_version: str, timeout_s: float) -> AsyncIterator[WatchEvent]:
        def produce(stream: ThreadStream) -> Iterator[bytes]:
            try:
                resp = self._core.list_namespaced_pod(
                    self.namespace,
                    label_selector=SESSION_LABEL,
                    watch=True,
                    allow_watch_bookmarks=True,
                    resource_version=resource_version,
                    timeout_seconds=max(1, int(timeout_s)),
                    _preload_content=False,
                    _request_timeout=(CALL_TIMEOUT[0], timeout_s + 30),
                )
            except Exception as e:
                raise _api_error(e, "watching pods") from None
            stream.on_close = resp.close
            if stream.closed:
                return
            try:
                yield from split_lines(resp.stream(amt=None, decode_content=False))
            except Exception as e:
                if not stream.closed:
                    raise PodApiError(f"watch stream dropped: {type(e).__name__}: {e}") from None

        async for line in ThreadStream(produce):
            yield parse_watch_line(line)

    async def read_log(self, name: str, container: str, *, follow: bool = False) -> AsyncIterator[bytes]:
        def produce(stream: ThreadStream) -> Iterator[bytes]:
            try:
                resp = self._core.read_namespaced_pod_log(
                    name,
                    self.namespace,
                    container=container,
                    follow=follow,
                    _preload_content=False,
                    # A followed log may be quiet for long: an hour of silence ends the stream.
                    _request_timeout=(CALL_TIMEOUT[0], 3600.0 if follow else 120.0),
                )
            except Exception as e:
                raise _api_error(e, f"reading the log of {name}/{container}") from None
            stream.on_close = resp.close
            if stream.closed:
                return
            try:
                yield from resp.stream(amt=CHUNK, decode_content=False)
            except Exception as e:
                if not stream.closed:
                    raise PodApiError(f"log stream of {name}/{container} broke: {type(e).__name__}: {e}") from None

        async for chunk in ThreadStream(produce):
            if chunk:
                yield chunk

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self._api_client.close)
