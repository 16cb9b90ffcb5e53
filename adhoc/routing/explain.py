"""How a routing decision is shown: `adhoc route explain` (text and the contract's JSON),
`/api/v1/engines` and the queue — all built from the router's own figures, never recomputed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from adhoc.engines import Engine
from adhoc.routing.figures import Assessment


@dataclass(frozen=True)
class EngineView:
    name: str
    kind: str
    protocol: str
    address: str
    available: bool
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)
    probed_s_ago: float = 0.0

    @staticmethod
    def of(engine: Engine, assessment: Assessment, age: float) -> EngineView:
        address = "" if engine.port == 0 else engine.address
        return EngineView(engine.name, engine.kind, engine.protocol, address, assessment.available,
                          assessment.reason, assessment.figures, age)  # fmt: skip

    def not_offered(self, user: str, policy_allows: bool) -> EngineView:
        if not policy_allows:
            return replace(self, available=False, reason=f"policy routes do not allow {user} on it")
        return replace(self, available=False, reason=f"not asked for (adhoc.route / [routing] policy); {self.reason}")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "available": self.available,
                               "reason": self.reason, "protocol": self.protocol, "address": self.address,
                               "probed_s_ago": round(self.probed_s_ago, 3)}  # fmt: skip
        out.update(self.figures)
        return out


@dataclass(frozen=True)
class QueueEntry:
    position: int
    user: str
    waited_s: float
    reason: str
    replica: str = ""  # [ha]: the replica it waits on, when not this one

    def to_json(self) -> dict[str, Any]:
        out = {"position": self.position, "user": self.user, "waited_s": round(self.waited_s, 3), "reason": self.reason}
        return out | ({"replica": self.replica} if self.replica else {})


@dataclass(frozen=True)
class Explanation:
    engine: Engine | None
    reason: str
    engines: Sequence[EngineView]
    queue: Sequence[QueueEntry] = ()
    refused: bool = False  # the user may not open a session at all

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": self.engine.name if self.engine else None,
            "kind": self.engine.kind if self.engine else None,
            "reason": self.reason,
            "engines": [v.to_json() for v in self.engines],
            "queue_length": len(self.queue),
        }

    def to_text(self, user: str) -> str:
        chosen = self.engine.name if self.engine else ("(refused)" if self.refused else "(queue)")
        lines = [f"route for {user}: {chosen} — {self.reason}"]
        for v in self.engines:
            state = "available" if v.available else "unavailable"
            lines.append(f"  {v.name:<20} {v.kind:<6} {state}: {v.reason}")
        if self.queue:
            lines.append(f"  queue: {len(self.queue)} waiting")
        return "\n".join(lines)
