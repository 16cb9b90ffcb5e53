"""Slow down password guessing without locking out the right password.

Failures are counted per user, per address and per user at an address. Past `max_failures`,
every attempt waits first, doubling with each failure, but:
- failures from an address cost a user who has none there at most ADDRESS_DELAY_CAP_S (a NAT, an
  office, a BI server: one guesser must not lock out everyone behind it);
- no wait exceeds `max_delay_s`, which the gateway keeps under the handshake timeout, so a correct
  password always gets in (a wait past the timeout would fail every attempt, right or wrong);
- a success clears the user's count and the user's count at that address (not the address's: a
  guesser with one valid account must not wipe its own record).
A failed attempt raises AuthenticationError saying how long it was held back: the login step
writes that reason to the audit log.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from adhoc.auth import Authenticator, Principal
from adhoc.errors import AuthenticationError

MAX_DELAY_S = 30.0
ADDRESS_DELAY_CAP_S = 5.0
MAX_TRACKED = 10_000  # keys remembered at most; the oldest are forgotten first
FORGET_AFTER_S = 900.0


class Throttle:
    def __init__(
        self,
        inner: Authenticator,
        *,
        max_failures: int = 5,
        delay_s: float = 1.0,
        max_delay_s: float = MAX_DELAY_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.inner = inner
        self.max_failures = max_failures
        self.delay_s = delay_s
        self.max_delay_s = max_delay_s
        self._clock = clock
        self._sleep = sleep
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def _count(self, key: str, now: float) -> int:
        count, last = self._failures.get(key, (0, 0.0))
        return 0 if now - last > FORGET_AFTER_S else count

    def _delay(self, count: int) -> float:
        excess = count - self.max_failures
        return 0.0 if excess < 0 else min(self.delay_s * 2.0 ** min(excess, 64), self.max_delay_s)

    def delay_for(self, user: str, host: str) -> float:
        """How long an attempt by `user` from `host` waits before its password is checked."""
        now = self._clock()
        own = self._count(f"pair:{user}@{host}", now)
        address = self._delay(self._count(f"addr:{host}", now))
        if own == 0:
            address = min(address, ADDRESS_DELAY_CAP_S)
        return max(self._delay(self._count(f"user:{user}", now)), self._delay(own), address)

    async def authenticate(self, user: str, password: str, peer: str) -> Principal:
        host = peer.rsplit(":", 1)[0]
        delay = self.delay_for(user, host)
        if delay:
            await self._sleep(delay)
        try:
            principal = await self.inner.authenticate(user, password, peer)
        except AuthenticationError as e:
            now = self._clock()
            for key in (f"user:{user}", f"addr:{host}", f"pair:{user}@{host}"):
                count = self._count(key, now)
                self._failures.pop(key, None)
                self._failures[key] = (count + 1, now)
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)
            if delay:
                raise AuthenticationError(f"{e.message} (after a {delay:g} s wait: repeated failures "
                                          f"for this user or from {host})") from None  # fmt: skip
            raise
        self._failures.pop(f"user:{user}", None)
        self._failures.pop(f"pair:{user}@{host}", None)
        return principal
