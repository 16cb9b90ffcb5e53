"""Start a process's parts in order and stop them in reverse: one list, one place.

    lifecycle = Lifecycle([engine, analysis_pool, thrift_server, http_server])
    await lifecycle.start()   # a part failing to start stops the ones already started, then raises
    ...
    await lifecycle.stop()    # reverse order; a part failing to stop is logged, the rest still stop

A part is anything with a `name` and `async start()` / `async stop()` (the `Service` protocol).
`stop()` of a part must be safe to call once after a successful `start()`; the lifecycle never
stops a part it did not start, and never stops one twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

log = logging.getLogger("adhoc.lifecycle")


class Service(Protocol):
    @property
    def name(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Part:
    """A service made of two coroutine functions, for parts that are not classes of their own."""

    def __init__(
        self,
        name: str,
        start: Callable[[], Awaitable[None]] | None = None,
        stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._name = name
        self._start = start
        self._stop = stop

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        if self._start is not None:
            await self._start()

    async def stop(self) -> None:
        if self._stop is not None:
            await self._stop()

    def __repr__(self) -> str:
        return f"Part({self._name!r})"


class Lifecycle:
    def __init__(self, services: Iterable[Service]) -> None:
        self.services: list[Service] = list(services)
        self._started: list[Service] = []
        self._stopping = False

    @property
    def started(self) -> list[str]:
        """Names of the parts running now, in start order."""
        return [s.name for s in self._started]

    async def start(self) -> None:
        for service in self.services:
            log.debug("starting %s", service.name)
            try:
                await service.start()
            except BaseException:
                # A half-started process must not leave children (an engine's JVM, bound ports) behind.
                log.debug("%s failed to start: stopping what started before it", service.name)
                await self.stop()
                raise
            self._started.append(service)

    async def stop(self) -> None:
        """Stop started parts in reverse order. Errors are logged, not raised: a part that fails to
        stop must not keep the ones before it (which it may depend on) running. A cancellation
        while stopping is re-raised once every part has been asked to stop."""
        if self._stopping:
            return
        self._stopping = True
        cancelled: asyncio.CancelledError | None = None
        try:
            while self._started:
                service = self._started.pop()
                log.debug("stopping %s", service.name)
                try:
                    await service.stop()
                except asyncio.CancelledError as e:
                    cancelled = e
                except Exception:
                    log.exception("stopping %s failed", service.name)
        finally:
            self._stopping = False
        if cancelled is not None:
            raise cancelled
