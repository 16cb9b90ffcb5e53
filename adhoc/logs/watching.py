"""The pod watch loop, in kopf's shape (`kopf/_cogs/clients/watching.py`): three layers, each with
one reason to start over.

    infinite_watch      forever: run continuous_watch; on an API error back off, then start over
    continuous_watch    list (a full snapshot), then watch from the list's resourceVersion, resuming
                        from the last event or bookmark whenever the server ends a stream; returns
                        when the periodic relist is due; 410 Gone raises WatchExpired → list again
    source.watch        one streaming request (`PodSource.watch`)

A relist repairs anything a watch missed: the handler gets the whole snapshot and forgets pods that
are not in it. Time comes from a `Clock`, so tests drive the relist and the back-off without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from adhoc.errors import PodApiError, WatchExpired
from adhoc.logs.pods import PodInfo
from adhoc.logs.source import PodSource, WatchEvent

log = logging.getLogger("adhoc.logs")


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off: first, 2×first, … capped."""

    first_s: float = 0.5
    cap_s: float = 30.0

    def delay(self, failures: int) -> float:
        return float(min(self.cap_s, self.first_s * 2.0 ** min(failures, 30)))


class WatchHandler(Protocol):
    def relisted(self, pods: Sequence[PodInfo]) -> None:
        """A full snapshot of the namespace's labelled pods: anything not in it is gone."""

    def changed(self, event: WatchEvent) -> None:
        """One ADDED / MODIFIED / DELETED event."""


async def continuous_watch(
    source: PodSource,
    handler: WatchHandler,
    *,
    clock: Clock,
    relist_interval_s: float = 300.0,
    watch_timeout_s: float = 60.0,
) -> None:
    listed = await source.list_pods()
    handler.relisted(listed.pods)
    resource_version = listed.resource_version
    deadline = clock.now() + relist_interval_s
    while (remaining := deadline - clock.now()) > 0:
        opened = clock.now()
        async for event in source.watch(resource_version, timeout_s=min(watch_timeout_s, max(1.0, remaining))):
            if event.resource_version:
                resource_version = event.resource_version
            if event.type != "BOOKMARK":
                handler.changed(event)
        if clock.now() - opened < 1.0:  # a server that ends every stream at once must not make us spin
            await clock.sleep(1.0)


async def infinite_watch(
    source: PodSource,
    handler: WatchHandler,
    *,
    clock: Clock,
    relist_interval_s: float = 300.0,
    watch_timeout_s: float = 60.0,
    backoff: Backoff | None = None,
) -> None:
    failures = 0
    while True:
        try:
            await continuous_watch(
                source, handler, clock=clock, relist_interval_s=relist_interval_s, watch_timeout_s=watch_timeout_s
            )
            failures = 0
        except WatchExpired:
            log.info("pod watch in %s: resourceVersion expired, listing again", source.namespace)
            failures = 0
        except PodApiError as e:
            delay = (backoff or Backoff()).delay(failures)
            failures += 1
            log.warning("pod watch in %s failed (%s); retrying in %.1f s", source.namespace, e.message, delay)
            await clock.sleep(delay)
