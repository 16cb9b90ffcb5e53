"""An in-memory probe whose figures a test sets, for router tests and benchmarks.

The YARN and K8s probes have loopback fakes of their services (yarn_rm.py, k8s_api.py); this one
stands in for a whole probe when the test is about the router's decisions, cache and queue.
"""

from __future__ import annotations

import asyncio

from adhoc.engines import Engine
from adhoc.routing.figures import Figures, QueueLoad, QuotaHeadroom, Reachable

GI = 1024**3


def yarn_load(used_pct: float, pending: int = 0, *, saturation: float = 0.9, share: float = 0.05) -> QueueLoad:
    return QueueLoad("root.adhoc", "capacity", used_pct, pending, saturation, 0, share)


def k8s_room(cpu: float, memory_gi: float, *, need_cpu: float = 4, need_gi: float = 16) -> QuotaHeadroom:
    return QuotaHeadroom("spark", "compute", cpu, int(memory_gi * GI), None, need_cpu, int(need_gi * GI))


class ScriptedProbe:
    def __init__(self, figures: Figures | None = None, *, delay: float = 0.0) -> None:
        self.figures: Figures = figures or Reachable("fake")
        self.delay = delay  # seconds of real time each check takes (a slow or hanging service)
        self.calls = 0

    async def check(self, engine: Engine) -> Figures:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.figures
