"""A session's engine cost so far: its pods' lifetimes × their CPU/memory requests × `[pricing]`.

An estimate from requests, not from metered use: what the scheduler reserved for the pod from the
moment it started (or was created) until its last container finished (or now, while it runs).
Pods already stored and deleted are remembered in `usage.jsonl` in the spool directory, so a
session's cost survives both the pod's deletion and a gateway restart.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from adhoc.logs.pods import PodInfo

log = logging.getLogger("adhoc.logs")
GIB = 2**30


@dataclass(frozen=True)
class Pricing:
    cpu_core_hour: float = 0.0
    memory_gib_hour: float = 0.0


@dataclass(frozen=True)
class PodUsage:
    uid: str
    session_id: str
    pod: str
    start: float  # epoch seconds
    end: float | None  # None while it runs
    cpu: float  # cores requested
    memory: float  # bytes requested
    key: str = ""  # where its log is stored, once it is
    user: str = ""  # the pod's adhoc.io/user label

    @staticmethod
    def of(pod: PodInfo) -> PodUsage:
        start = pod.started_at or pod.created_at
        end = (pod.finished_at or start) if pod.ended else None
        return PodUsage(
            pod.uid, pod.session_id, pod.name, start, end, pod.cpu_request, pod.memory_request, user=pod.user
        )

    def cost(self, pricing: Pricing, now: float) -> float:
        hours = max(0.0, (self.end if self.end is not None else now) - self.start) / 3600
        return hours * (self.cpu * pricing.cpu_core_hour + self.memory / GIB * pricing.memory_gib_hour)


class UsageLedger:
    """Every pod seen, by uid; pods whose log is stored are appended to a JSON-lines file."""

    def __init__(self, path: str = "") -> None:
        self._path = path
        self._pods: dict[str, PodUsage] = {}
        if path and os.path.exists(path):
            self._load(path)

    def _load(self, path: str) -> None:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    usage = PodUsage(**json.loads(line))
                except (ValueError, TypeError):
                    continue  # a line torn by a crash mid-append
                self._pods[usage.uid] = usage

    def observe(self, pod: PodInfo) -> None:
        known = self._pods.get(pod.uid)
        if known is None or not known.key:
            self._pods[pod.uid] = PodUsage.of(pod)

    def stored(self, pod: PodInfo | PodUsage, key: str) -> PodUsage:
        usage = PodUsage.of(pod) if isinstance(pod, PodInfo) else pod
        usage = PodUsage(**{**asdict(usage), "key": key})
        self._pods[usage.uid] = usage
        if self._path:
            with open(self._path, "a", encoding="utf-8") as f:
                f.write(json.dumps(asdict(usage)) + "\n")
        return usage

    def get(self, uid: str) -> PodUsage | None:
        return self._pods.get(uid)

    def session(self, session_id: str) -> Iterator[PodUsage]:
        return (u for u in list(self._pods.values()) if u.session_id == session_id)

    def cost(self, session_id: str, pricing: Pricing, now: float) -> float | None:
        """None when no pod of the session was ever seen (not a K8s session, or not yet started)."""
        pods = list(self.session(session_id))
        return sum(u.cost(pricing, now) for u in pods) if pods else None
