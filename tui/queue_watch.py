"""Where our session waits in the gateway's queue, read from its HTTP API while OpenSession blocks.

When every engine is full, an adhoc gateway holds OpenSession until the router admits the session
(up to `queue_timeout_s`). Meanwhile `GET <http_url>/api/v1/engines` lists the queue: each waiter's
position, user, wait so far and the reason it waits. adhoc-sql shows the first entry of its user.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class QueuePlace:
    position: int
    length: int
    waited_s: float
    reason: str

    def describe(self) -> str:
        return (f"waiting in the gateway's queue: position {self.position} of {self.length}, "
                f"{self.waited_s:.0f} s so far — {self.reason}")  # fmt: skip


class QueueWatch:
    def __init__(self, http_url: str, user: str, password: str | None, timeout_s: float = 2.0) -> None:
        self.url = http_url.rstrip("/") + "/api/v1/engines"
        self.user = user
        self.timeout_s = timeout_s
        self.headers = {"Accept": "application/json"}
        if password is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def place(self) -> QueuePlace | None:
        """Our user's place in the queue, or None (not queued, or the API did not answer)."""
        try:
            with urllib.request.urlopen(urllib.request.Request(self.url, headers=self.headers),
                                        timeout=self.timeout_s) as response:  # fmt: skip
                body = json.load(response)
        except (OSError, ValueError):
            return None
        queue = body.get("queue") or []
        for entry in queue:
            if entry.get("user") == self.user:
                return QueuePlace(int(entry["position"]), int(body.get("queue_length", len(queue))),
                                  float(entry.get("waited_s", 0.0)), str(entry.get("reason", "")))  # fmt: skip
        return None


class Background:
    """A blocking call (OpenSession) on a daemon thread: a user who gives up waiting can leave the
    process without waiting for it, and the socket closing takes the session out of the queue."""

    def __init__(self, call: Callable[[], T]) -> None:
        self.result: object = None
        self.error: BaseException | None = None
        self.started = time.monotonic()
        self._done = threading.Event()

        def run() -> None:
            try:
                self.result = call()
            except BaseException as e:  # handed to whoever waits
                self.error = e
            finally:
                self._done.set()

        threading.Thread(target=run, name="adhoc-sql-connect", daemon=True).start()

    def wait(self, timeout: float | None) -> bool:
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()
