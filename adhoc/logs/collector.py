"""The collector: every ended `adhoc.io/session` pod's log stored exactly once, then the pod deleted.

For each pod that reached Succeeded or Failed, one archive job, retried with back-off until done:

    1. spool      the log of every container (init containers, then containers, in spec order)
                  streamed from the API into `<spool>/<uid>.log` — skipped when already spooled
    2. store      skipped when the store already holds the key with exactly the spooled size;
                  otherwise uploaded so the key shows all of it or nothing, then its size checked
    3. delete     the pod, with its uid as precondition — only now, and only ended pods
    4. forget     the spool entry; the pod's usage goes to the cost ledger

A crash between any two steps repeats at most the unfinished one: after a restart the pod is listed
again (it is deleted last), its spool entry or stored object is found, and the job resumes. So each
pod ends as exactly one object and one delete. Running pods are watched (for cost and live logs)
and never touched.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Protocol

from adhoc.errors import LogCollectionError, PodApiError
from adhoc.logs.cost import Pricing, UsageLedger
from adhoc.logs.pods import PodInfo
from adhoc.logs.source import PodSource, WatchEvent
from adhoc.logs.spool import Spool, SpoolEntry
from adhoc.logs.store import LogStore
from adhoc.logs.watching import Backoff, Clock, RealClock, infinite_watch

log = logging.getLogger("adhoc.logs")
NO_PRICES = Pricing()
DEFAULT_BACKOFF = Backoff()


def container_header(container: str) -> bytes:
    """The one line between two containers' texts in a pod's stored log."""
    return f"=== adhoc: container {container} ===\n".encode()


class PodClaims(Protocol):
    """Several replicas watching one namespace: one stores each pod's log (adhoc.ha.zookeeper)."""

    async def claim(self, key: str, on_freed: Callable[[], None]) -> bool:
        """True: this replica stores the pod's log. False: another does; `on_freed` is called (from
        any thread) if that replica lets go without finishing (it died), so this one can take over."""
        ...

    def release(self, key: str) -> None: ...


class Collector:
    def __init__(
        self,
        engine: str,
        source: PodSource,
        store: LogStore,
        spool_dir: str,
        *,
        pricing: Pricing = NO_PRICES,
        clock: Clock | None = None,
        wall: Callable[[], float] = time.time,
        parallel: int = 16,
        backoff: Backoff = DEFAULT_BACKOFF,
        relist_interval_s: float = 300.0,
        watch_timeout_s: float = 60.0,
        claims: PodClaims | None = None,
    ) -> None:
        self.engine = engine
        self.source = source
        self.store = store
        self.spool = Spool(spool_dir)
        self.usage = UsageLedger(os.path.join(spool_dir, "usage.jsonl"))
        self.pricing = pricing
        self.clock = clock or RealClock()
        self.wall = wall
        self.backoff = backoff
        self.relist_interval_s = relist_interval_s
        self.watch_timeout_s = watch_timeout_s
        self.claims = claims
        self._loop: asyncio.AbstractEventLoop | None = None
        self.pods: dict[str, PodInfo] = {}  # uid → the latest view of each labelled pod
        self.ready = asyncio.Event()  # set once the first full list has been seen
        self.stored_count = 0
        self.failed_count = 0  # attempts to store a log that failed and are retried (store or API down)
        self._slots = asyncio.Semaphore(parallel)
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._done: dict[str, None] = {}  # uids stored and deleted (bounded, insertion-ordered)
        self._watch: asyncio.Task[None] | None = None

    # -- lifecycle (adhoc.lifecycle.Service) --

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._watch = asyncio.create_task(
            infinite_watch(
                self.source, self, clock=self.clock,
                relist_interval_s=self.relist_interval_s, watch_timeout_s=self.watch_timeout_s,
            ),
            name=f"adhoc-logs-watch-{self.engine}",
        )  # fmt: skip

    async def stop(self) -> None:
        tasks = [t for t in (self._watch, *self._jobs.values()) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=10)
            for task in stuck:
                log.warning("log collector task %s did not stop in time", task.get_name())
        await self.source.close()  # the store is shared by the engines' collectors: its owner closes it

    async def idle(self) -> None:
        """Wait until no archive job runs (tests and benchmarks)."""
        while self._jobs:
            await asyncio.gather(*list(self._jobs.values()), return_exceptions=True)

    # -- the watch loop's handler --

    def relisted(self, pods: Sequence[PodInfo]) -> None:
        first = not self.ready.is_set()
        self.pods = {p.uid: p for p in pods}
        for pod in pods:
            self._consider(pod)
        if first:
            self.ready.set()
            for entry in self.spool.entries():
                if entry.uid not in self.pods and entry.uid not in self._jobs:
                    # Spooled, and the pod is gone (deleted after storing, or by someone else): the
                    # spooled bytes are the only copy left, so they are stored before being dropped.
                    self._start(entry.uid, self._store_orphan(entry))

    def changed(self, event: WatchEvent) -> None:
        if event.type == "DELETED" or event.pod is None:
            self.pods.pop(event.uid, None)
            return
        self.pods[event.uid] = event.pod
        self._consider(event.pod)

    def _consider(self, pod: PodInfo) -> None:
        self.usage.observe(pod)
        if pod.ended and pod.uid not in self._jobs and pod.uid not in self._done:
            self._start(pod.uid, self._archive(pod))

    def _start(self, uid: str, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(job, name=f"adhoc-logs-{uid}")
        self._jobs[uid] = task
        task.add_done_callback(lambda _t: self._jobs.pop(uid, None))

    # -- one pod --

    async def _archive(self, pod: PodInfo) -> None:
        if self.claims is not None:
            if not await self.claims.claim(f"{self.engine}-{pod.uid}", lambda: self._taken_over(pod.uid)):
                return  # another replica stores it; if it dies first, _taken_over brings it back here
            try:
                await self._archive_claimed(pod)
            finally:
                self.claims.release(f"{self.engine}-{pod.uid}")
        else:
            await self._archive_claimed(pod)

    def _taken_over(self, uid: str) -> None:
        """The replica storing this pod's log let go: consider the pod again (called from any thread)."""
        def again() -> None:
            pod = self.pods.get(uid)
            if pod is not None:
                self._consider(pod)

        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(again)

    async def _archive_claimed(self, pod: PodInfo) -> None:
        async def once() -> None:
            if await self._archive_once(pod):
                self._mark_done(pod.uid)

        await self._retrying(once, f"the engine log of pod {pod.name}")

    async def _retrying(self, attempt: Callable[[], Awaitable[None]], what: str) -> None:
        """Run `attempt` in a slot until it succeeds, backing off after each failure (store or API down)."""
        failures = 0
        while True:
            try:
                async with self._slots:
                    await attempt()
                return
            except Exception as e:
                delay = self.backoff.delay(failures)
                failures += 1
                self.failed_count += 1
                if isinstance(e, LogCollectionError):
                    log.warning("%s not stored yet (%s); retrying in %.1f s", what, e.message, delay)
                else:
                    log.exception("storing %s failed; retrying in %.1f s", what, delay)
                await self.clock.sleep(delay)

    async def _archive_once(self, pod: PodInfo) -> bool:
        entry = self.spool.get(pod.uid)
        if entry is None:
            spooled = await self._spool_log(pod)
            if spooled is None:
                return True  # the pod went away before its log could be read: nothing left to store
            entry = spooled
        await self._store(entry)
        deleted = await self.source.delete_pod(pod.name, pod.uid)
        log.info(
            "engine log of pod %s stored at %s (%d bytes); pod %s",
            pod.name, self.store.display(entry.key), entry.size, "deleted" if deleted else "already gone",
        )  # fmt: skip
        self.usage.stored(pod, entry.key)
        self.spool.remove(pod.uid)
        self.stored_count += 1
        return True

    async def _spool_log(self, pod: PodInfo) -> SpoolEntry | None:
        writer = self.spool.writer(pod.uid, pod.name, pod.namespace, pod.session_id, pod.store_key)
        try:
            for i, container in enumerate(pod.containers):
                if i:
                    writer.write((b"" if writer.last_byte == b"\n" else b"\n") + container_header(container))
                try:
                    async for chunk in self.source.read_log(pod.name, container):
                        writer.write(chunk)
                except PodApiError as e:
                    if e.status == 400:  # the container never ran, so it has no log
                        log.info("pod %s: container %s has no log (%s)", pod.name, container, e.message)
                        continue
                    if e.status == 404 and await self._gone(pod):
                        log.error("pod %s was deleted before its log could be stored", pod.name)
                        writer.abort()
                        return None
                    raise
        except BaseException:
            writer.abort()
            raise
        return writer.commit()

    async def _gone(self, pod: PodInfo) -> bool:
        current = await self.source.get_pod(pod.name)
        return current is None or current.uid != pod.uid

    async def _store(self, entry: SpoolEntry) -> None:
        stored = await self.store.size(entry.key)
        if stored == entry.size:
            return  # stored by an earlier run that stopped before deleting the pod
        if stored is not None:
            where = self.store.display(entry.key)
            log.warning("%s holds %d bytes, not %d: storing it again", where, stored, entry.size)
        await self.store.put(entry.path, entry.key)

    async def _store_orphan(self, entry: SpoolEntry) -> None:
        async def once() -> None:
            await self._store(entry)
            self.spool.remove(entry.uid)

        await self._retrying(once, f"the spooled log of {entry.pod}")

    def _mark_done(self, uid: str) -> None:
        self._done[uid] = None
        while len(self._done) > 100_000:
            del self._done[next(iter(self._done))]

    # -- what the HTTP side and DESC SESSION ask --

    @property
    def pending_count(self) -> int:
        """Ended pods whose log is not stored yet: the backlog."""
        return len(self._jobs)

    def session_pods(self, session_id: str) -> list[PodInfo]:
        return sorted((p for p in self.pods.values() if p.session_id == session_id), key=lambda p: p.created_at)

    def session_cost(self, session_id: str) -> float | None:
        return self.usage.cost(session_id, self.pricing, self.wall())
