"""Credentials verified a moment ago, so HTTP Basic does not pay a password check per request.

A browser resends Basic credentials with every request: one Spark UI page through the proxy is
dozens of them, and each scrypt check costs ~50 ms of CPU (an LDAP bind, a round trip). A success
is remembered for `ttl_s`, keyed by an HMAC of the credentials and the client's host under a key
made at start (the password itself is never kept). Failures are never remembered: they go through
the authenticator and its throttle every time. A changed or removed password stops working within
`ttl_s`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections import OrderedDict
from collections.abc import Callable

from adhoc.auth import Principal

DEFAULT_TTL_S = 60.0
MAX_ENTRIES = 4096


class RecentLogins:
    def __init__(
        self, ttl_s: float = DEFAULT_TTL_S, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._key = os.urandom(32)
        self._entries: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()

    def _digest(self, user: str, password: str, host: str) -> bytes:
        material = "\0".join((user, password, host)).encode()
        return hmac.new(self._key, material, hashlib.sha256).digest()

    def get(self, user: str, password: str, host: str) -> Principal | None:
        digest = self._digest(user, password, host)
        entry = self._entries.get(digest)
        if entry is None:
            return None
        principal, expires = entry
        if self._clock() >= expires:
            del self._entries[digest]
            return None
        return principal

    def put(self, user: str, password: str, host: str, principal: Principal) -> None:
        if self.ttl_s <= 0:
            return
        digest = self._digest(user, password, host)
        self._entries.pop(digest, None)
        self._entries[digest] = (principal, self._clock() + self.ttl_s)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)  # the oldest first
