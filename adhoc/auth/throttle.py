"""Slow down guessing: after max_failures for a user or an address, every attempt waits first."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from adhoc.auth import Authenticator, Principal
from adhoc.errors import AuthenticationError

MAX_DELAY_S = 30.0
MAX_TRACKED = 10_000  # keys remembered at most; the oldest are forgotten first
FORGET_AFTER_S = 900.0


class Throttle:
    def __init__(
        self,
        inner: Authenticator,
        *,
        max_failures: int = 5,
        delay_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.inner = inner
        self.max_failures = max_failures
        self.delay_s = delay_s
        self._clock = clock
        self._sleep = sleep
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def delay_for(self, *keys: str) -> float:
        now = self._clock()
        worst = 0
        for key in keys:
            count, last = self._failures.get(key, (0, 0.0))
            if now - last > FORGET_AFTER_S:
                count = 0
            worst = max(worst, count)
        excess = worst - self.max_failures
        return 0.0 if excess < 0 else min(self.delay_s * 2**excess, MAX_DELAY_S)

    async def authenticate(self, user: str, password: str, peer: str) -> Principal:
        host = peer.rsplit(":", 1)[0]
        keys = (f"user:{user}", f"addr:{host}")
        delay = self.delay_for(*keys)
        if delay:
            await self._sleep(delay)
        try:
            principal = await self.inner.authenticate(user, password, peer)
        except AuthenticationError:
            now = self._clock()
            for key in keys:
                count, _ = self._failures.pop(key, (0, 0.0))
                self._failures[key] = (count + 1, now)
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)
            raise
        self._failures.pop(keys[0], None)
        return principal
