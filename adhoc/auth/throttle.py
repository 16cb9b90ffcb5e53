"""Bound the rate of password guessing without locking out the right password.

Failures are counted per user, per address and per user at an address. Past `max_failures`, the
password checks of a key are spaced out, `delay_s` apart and doubling with each failure: every
attempt reserves the next free slot of each of its keys *before* its password is checked, so a
hundred parallel handshakes wait in line one interval apart instead of all sleeping the same
second and then guessing at once (which made a latency bound of an intended rate bound: 14
guesses/s with 100 parallel connections). An attempt counts as a failure from the moment it
reserves (a success takes it back), so a burst cannot slip past `max_failures` either. An attempt
whose slot lies further away than `max_delay_s` (half the handshake timeout, so a wait never fails a
handshake by itself) is refused at once, without checking its password, saying when to retry.

So one key, one user at one address, gets at most one password check per `max_delay_s` once its
failures are high, whatever the number of connections. The right password still gets in:
- a user at an address where that user has no failures of their own ("fresh") waits in separate
  lines, `fresh-user:` (checks at most FRESH_USER_CAP_S apart) and `fresh-addr:` (at most
  ADDRESS_DELAY_CAP_S apart): a guesser of bob's password from one address costs bob, logging in
  from another, about 2 s; one guessing from behind a NAT, an office, a BI server costs the others
  there at most 5 s;
- a success clears the user's count at that address and takes that address's share off the user's
  count (not the address's count: a guesser with one valid account must not wipe its own record;
  nor other addresses' failures: a real login must not hand a spread-out guesser fresh guesses).
The trade-off, as every throttle makes it: a guesser using many addresses at once, each fresh,
fills the fresh lines too; the rate stays bounded (per user <= 0.7 checks/s, per address 0.2/s),
but the real user's attempt may then be refused with "try again in N s" until the flood stops.
A failed or refused attempt raises AuthenticationError saying why: the login step audits it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from adhoc.auth import Authenticator, Principal
from adhoc.errors import AuthenticationError

MAX_DELAY_S = 30.0
ADDRESS_DELAY_CAP_S = 5.0
# A user's checks from addresses with no failures of their own: at most one per 2 s. With the
# user's own line (one per max_delay_s) a guesser spread over many addresses gets <= 0.7 guesses/s.
FRESH_USER_CAP_S = 2.0
MAX_TRACKED = 10_000  # keys remembered at most; the oldest are forgotten first
FORGET_AFTER_S = 900.0


@dataclass
class _Line:
    """One key's record: failures counted, when last touched, the earliest start of its next check."""

    failures: int = 0
    touched: float = 0.0
    next_start: float = 0.0


@dataclass(frozen=True)
class _Slot:
    key: str
    interval: float


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
        self._lines: OrderedDict[str, _Line] = OrderedDict()

    def _line(self, key: str, now: float) -> _Line:
        line = self._lines.get(key)
        if line is None or now - line.touched > FORGET_AFTER_S:
            return _Line()
        return line

    def _interval(self, failures: int) -> float:
        excess = failures - self.max_failures
        return 0.0 if excess < 0 else min(self.delay_s * 2.0 ** min(excess, 64), self.max_delay_s)

    def _slots(self, user: str, host: str, now: float) -> list[_Slot]:
        pair = f"pair:{user}@{host}"
        user_failures = self._line(f"user:{user}", now).failures
        addr_failures = self._line(f"addr:{host}", now).failures
        slots = [_Slot(pair, self._interval(self._line(pair, now).failures))]
        if self._line(pair, now).failures == 0:  # fresh: others' failures cost at most the cap
            slots.append(_Slot(f"fresh-user:{user}", min(self._interval(user_failures), FRESH_USER_CAP_S)))
            slots.append(_Slot(f"fresh-addr:{host}", min(self._interval(addr_failures), ADDRESS_DELAY_CAP_S)))
        else:
            slots.append(_Slot(f"user:{user}", self._interval(user_failures)))
            slots.append(_Slot(f"addr:{host}", self._interval(addr_failures)))
        return slots

    def _start(self, slots: list[_Slot], now: float) -> float:
        """The earliest moment every line of the attempt has room for it."""
        return max(max(now + s.interval, self._line(s.key, now).next_start) for s in slots)

    def delay_for(self, user: str, host: str) -> float:
        """How long an attempt by `user` from `host` made now would wait before its password is checked."""
        now = self._clock()
        return self._start(self._slots(user, host, now), now) - now

    def _touch(self, key: str, now: float) -> _Line:
        line = self._line(key, now)
        self._lines.pop(key, None)
        self._lines[key] = line
        line.touched = now
        return line

    def _reserve(self, user: str, host: str) -> float:
        """Take the attempt's slot in each line and count it as a failure until it proves otherwise."""
        now = self._clock()
        slots = self._slots(user, host, now)
        start = self._start(slots, now)
        wait = start - now
        if wait > self.max_delay_s:
            raise AuthenticationError(f"too many failed logins for this user or from {host}: "
                                      f"try again in {wait - self.max_delay_s:.0f} s")  # fmt: skip
        for slot in slots:
            self._touch(slot.key, now).next_start = start + slot.interval
        for key in (f"user:{user}", f"addr:{host}", f"pair:{user}@{host}"):
            self._touch(key, now).failures += 1
        while len(self._lines) > MAX_TRACKED:
            self._lines.popitem(last=False)
        return wait

    async def authenticate(self, user: str, password: str, peer: str) -> Principal:
        host = peer.rsplit(":", 1)[0]
        delay = self._reserve(user, host)
        if delay:
            await self._sleep(delay)
        try:
            principal = await self.inner.authenticate(user, password, peer)
        except AuthenticationError as e:
            if delay:
                raise AuthenticationError(f"{e.message} (after a {delay:g} s wait: repeated failures "
                                          f"for this user or from {host})") from None  # fmt: skip
            raise
        now = self._clock()
        # The user proved themselves here: a clean line at this address, and the user's count loses
        # what came from here (this attempt included). Failures from other addresses stay: clearing
        # them would hand a guesser spread over many addresses fresh guesses after every real login.
        pair = self._lines.pop(f"pair:{user}@{host}", None)
        user_line = self._lines.get(f"user:{user}")
        if user_line is not None:
            user_line.failures = max(0, user_line.failures - (pair.failures if pair is not None else 1))
        addr = self._lines.get(f"addr:{host}")
        if addr is not None:
            addr.failures = max(0, addr.failures - 1)  # this attempt's own count, taken back
            addr.touched = now
        return principal
