"""What the collector needs to know about a pod, read from the K8s API's v1 Pod JSON (no I/O here).

Only pods carrying the exact label key `adhoc.io/session` are ours: the list/watch asks the API for
that key, and `PodInfo.from_json` checks again, so a look-alike key (`adhoc.io/session-x`,
`example.com/adhoc.io/session`) is never read, stored or deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from adhoc.engines import SESSION_LABEL, USER_LABEL

__all__ = ["SESSION_LABEL", "USER_LABEL", "PodInfo", "parse_quantity", "parse_time"]
ENDED_PHASES = frozenset({"Succeeded", "Failed"})

_SUFFIXES: dict[str, int | Decimal] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}  # fmt: skip


def parse_quantity(text: str | int | float | None) -> float:
    """A K8s resource quantity ("500m", "4Gi", "1e3", 2) as a number; unparsable → 0 (no cost, no crash)."""
    if text is None:
        return 0.0
    if isinstance(text, int | float):
        return float(text)
    text = text.strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if text.endswith(suffix):
            try:
                return float(Decimal(text[: -len(suffix)]) * Decimal(_SUFFIXES[suffix]))
            except InvalidOperation:
                break
    try:
        return float(Decimal(text))
    except InvalidOperation:
        return 0.0


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def valid_session_id(value: str) -> bool:
    """A label value is path-safe ([A-Za-z0-9._-], ≤ 63) except for the dot names."""
    return bool(value) and value not in (".", "..") and "/" not in value


@dataclass(frozen=True)
class PodInfo:
    name: str
    namespace: str
    uid: str
    session_id: str
    user: str = ""
    phase: str = "Pending"
    resource_version: str = ""
    created_at: float = 0.0  # epoch seconds, metadata.creationTimestamp
    started_at: float | None = None  # status.startTime
    finished_at: float | None = None  # the last container's terminated.finishedAt
    deleting: bool = False  # metadata.deletionTimestamp is set
    containers: tuple[str, ...] = ()  # init containers then containers, each in spec order
    cpu_request: float = 0.0  # cores the scheduler reserved for the pod
    memory_request: float = 0.0  # bytes
    labels: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def ended(self) -> bool:
        return self.phase in ENDED_PHASES

    @property
    def store_key(self) -> str:
        """`<yyyy>/<mm>/<dd>/<session_id>/<pod>.log`, dated by the pod's creation (UTC)."""
        day = datetime.fromtimestamp(self.created_at, UTC)
        return f"{day:%Y/%m/%d}/{self.session_id}/{self.name}.log"

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> PodInfo | None:
        """A v1 Pod as the API serves it; None when it is not one of ours (or malformed)."""
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        session_id = labels.get(SESSION_LABEL)
        if not isinstance(session_id, str) or not valid_session_id(session_id):
            return None
        name, uid = meta.get("name"), meta.get("uid")
        if not isinstance(name, str) or not isinstance(uid, str) or not name or "/" in name:
            return None
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        init = [c for c in spec.get("initContainers") or [] if isinstance(c, dict)]
        main = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
        cpu, memory = _effective_requests(init, main)
        finished = [
            parse_time(((s.get("state") or {}).get("terminated") or {}).get("finishedAt"))
            for s in (status.get("containerStatuses") or [])
            if isinstance(s, dict)
        ]
        ended_times = [t for t in finished if t is not None]
        return PodInfo(
            name=name,
            namespace=str(meta.get("namespace") or ""),
            uid=uid,
            session_id=session_id,
            user=str(labels.get(USER_LABEL) or ""),
            phase=str(status.get("phase") or "Pending"),
            resource_version=str(meta.get("resourceVersion") or ""),
            created_at=parse_time(meta.get("creationTimestamp")) or 0.0,
            started_at=parse_time(status.get("startTime")),
            finished_at=max(ended_times) if ended_times else None,
            deleting=bool(meta.get("deletionTimestamp")),
            containers=tuple(str(c.get("name")) for c in init + main if c.get("name")),
            cpu_request=cpu,
            memory_request=memory,
            labels=dict(labels),
        )


def _effective_requests(init: list[dict[str, Any]], main: list[dict[str, Any]]) -> tuple[float, float]:
    """What the scheduler reserves: max(sum of containers, largest init container), per resource."""

    def requests(c: dict[str, Any]) -> tuple[float, float]:
        req = (c.get("resources") or {}).get("requests") or {}
        return parse_quantity(req.get("cpu")), parse_quantity(req.get("memory"))

    main_req = [requests(c) for c in main]
    init_req = [requests(c) for c in init]
    cpu = max([sum(r[0] for r in main_req), *(r[0] for r in init_req)], default=0.0)
    memory = max([sum(r[1] for r in main_req), *(r[1] for r in init_req)], default=0.0)
    return cpu, memory
