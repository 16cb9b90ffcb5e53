"""Ended sessions the whole fleet remembers, so a session's history link works on every replica.

    /<ns>-fleet/ended/<first two hex digits of the id>/<ended at, s>-<session id>   data: the facts (JSON)

A session's link outlives it: `/ui/<id>/` then redirects to the Spark history server (or the
session's logs). Its replica remembers that itself (EndedSessions); any other replica reads it here,
once, and remembers it too. The znodes are persistent (the replica that wrote one may be long gone)
and bounded by time: every replica prunes the ones older than `[server] ended_session_retention_s`
now and then (deleting twice is harmless). 256 buckets keep each listing small (about 400 names
with 100,000 remembered sessions, well under ZooKeeper's 1 MB reply limit).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError, NotEmptyError

log = logging.getLogger("adhoc.ha")


class EndedInZooKeeper:
    def __init__(self, zk: KazooClient, state_root: str) -> None:
        self.zk = zk
        self.root = f"{state_root}/ended"

    def _bucket(self, session_id: str) -> str:
        return f"{self.root}/{session_id[:2].lower() or '00'}"

    def _path(self, facts: dict[str, object]) -> str:
        session_id = str(facts["session_id"])
        ended_at = float(str(facts.get("ended_at") or time.time()))
        return f"{self._bucket(session_id)}/{int(ended_at)}-{session_id}"

    def record(self, facts: dict[str, object]) -> None:
        """Blocking: run it in a thread."""
        self.zk.create(self._path(facts), json.dumps(facts).encode(), makepath=True)

    def record_async(self, facts: dict[str, object]) -> Any:
        """Sent at once (kazoo's async API); returns its IAsyncResult."""
        return self.zk.create_async(self._path(facts), json.dumps(facts).encode(), makepath=True)

    def lookup(self, session_id: str) -> dict[str, object] | None:
        """Blocking: run it in a thread."""
        bucket = self._bucket(session_id)
        try:
            names = [n for n in self.zk.get_children(bucket) if n.endswith("-" + session_id)]
            if not names:
                return None
            data, _ = self.zk.get(f"{bucket}/{max(names)}")
        except NoNodeError:
            return None
        facts: dict[str, object] = json.loads(data or b"{}")
        return facts

    def prune(self, retention_s: float) -> int:
        """Delete what is older than the retention (blocking); returns how many went."""
        horizon = time.time() - retention_s
        gone = 0
        try:
            buckets = self.zk.get_children(self.root)
        except NoNodeError:
            return 0
        for bucket in buckets:
            try:
                names = self.zk.get_children(f"{self.root}/{bucket}")
            except NoNodeError:
                continue
            for name in names:
                ended_at, _, _ = name.partition("-")
                if ended_at.isdigit() and int(ended_at) < horizon:
                    try:
                        self.zk.delete(f"{self.root}/{bucket}/{name}")
                        gone += 1
                    except (NoNodeError, NotEmptyError):
                        pass
        return gone
