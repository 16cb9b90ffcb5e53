"""What a probe found, as plain data: the figures `route explain`, `/api/v1/engines` and the
`[adhoc]` lines show, and whether the engine can take one more session.

Each figure type answers `assess(placed)`: given the sessions the gateway placed on that engine
since the figures were taken, can it take another, and in words why (with the numbers)?
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GIB = 1024**3


@dataclass(frozen=True)
class Assessment:
    available: bool
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)
    full: bool = False  # unavailable for want of capacity (worth waiting for), not because it is down


@dataclass(frozen=True)
class Unreachable:
    """The probe could not get figures at all (RM down, API error, quota missing, port closed)."""

    reason: str

    def assess(self, placed: int) -> Assessment:
        return Assessment(False, self.reason)


@dataclass(frozen=True)
class Reachable:
    """A local engine (or any engine's Thrift port): it answers, and has no capacity figures."""

    address: str
    description: str = ""  # instead of "reachable at ADDRESS"

    def assess(self, placed: int) -> Assessment:
        return Assessment(True, self.description or f"reachable at {self.address}")


@dataclass(frozen=True)
class QueueLoad:
    """A YARN queue as the ResourceManager reports it, against the engine's thresholds."""

    queue: str  # full path
    scheduler: str  # "capacity" | "fair"
    used_pct_of_max: float  # 0..100+: used as a share of the queue's maximum
    pending_apps: int
    saturation: float
    max_pending_apps: int
    session_share: float
    rm_url: str = ""

    def assess(self, placed: int) -> Assessment:
        used = self.used_pct_of_max + placed * self.session_share * 100
        limit = self.saturation * 100
        figures = {
            "queue": self.queue,
            "scheduler": self.scheduler,
            "used_pct_of_max": round(self.used_pct_of_max, 1),
            "pending_apps": self.pending_apps,
            "placed_since_probe": placed,
            "saturation": self.saturation,
            "max_pending_apps": self.max_pending_apps,
            "rm_url": self.rm_url,
        }
        placed_note = f" + {placed} placed since the probe" if placed else ""
        numbers = (f"queue {self.queue} at {self.used_pct_of_max:.0f}% of max{placed_note} "
                   f"(saturation {limit:.0f}%), {self.pending_apps} pending")  # fmt: skip
        if used >= limit:
            return Assessment(False, f"saturated: {numbers}", figures, full=True)
        if self.pending_apps > self.max_pending_apps:
            return Assessment(False, f"saturated: {numbers} (max_pending_apps {self.max_pending_apps})", figures, True)
        return Assessment(True, numbers, figures)


@dataclass(frozen=True)
class QuotaHeadroom:
    """Free room in a namespace's ResourceQuota(s), against what a new session needs."""

    namespace: str
    quota: str  # the name of the tightest quota ("" = the namespace has none)
    free_cpu: float | None  # None: no quota limits it
    free_memory: int | None  # bytes
    free_pods: int | None
    min_free_cpu: float
    min_free_memory: int

    def assess(self, placed: int) -> Assessment:
        cpu = None if self.free_cpu is None else self.free_cpu - placed * self.min_free_cpu
        memory = None if self.free_memory is None else self.free_memory - placed * self.min_free_memory
        pods = None if self.free_pods is None else self.free_pods - placed
        figures = {
            "namespace": self.namespace,
            "quota": self.quota,
            "free_cpu": None if cpu is None else round(cpu, 3),
            "free_memory": memory,
            "free_pods": pods,
            "placed_since_probe": placed,
            "min_free_cpu": self.min_free_cpu,
            "min_free_memory": self.min_free_memory,
        }
        where = f"namespace {self.namespace}" + (f" quota {self.quota}" if self.quota else " (no ResourceQuota)")
        numbers = (f"{where}: {_cpu(cpu)} CPU and {_mem(memory)} free"
                   + (f" after {placed} placed since the probe" if placed else "")
                   + f" (needs {self.min_free_cpu:g} CPU, {_mem(self.min_free_memory)})")  # fmt: skip
        if cpu is not None and cpu < self.min_free_cpu:
            return Assessment(False, f"no headroom: {numbers}", figures, full=True)
        if memory is not None and memory < self.min_free_memory:
            return Assessment(False, f"no headroom: {numbers}", figures, full=True)
        if pods is not None and pods < 1:
            return Assessment(False, f"no headroom: {where}: no pods left in the quota", figures, full=True)
        return Assessment(True, numbers, figures)


Figures = Unreachable | Reachable | QueueLoad | QuotaHeadroom


def _cpu(value: float | None) -> str:
    return "unlimited" if value is None else f"{value:g}"


def _mem(value: int | None) -> str:
    if value is None:
        return "unlimited memory"
    return f"{value / GIB:.1f}Gi" if abs(value) >= GIB else f"{value / 1024**2:.0f}Mi"
