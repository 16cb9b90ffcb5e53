"""The router: the one place that decides which engine a new session runs on, or that it waits.

    route = await router.route(principal, requested="k8s", allowed=policy_allows)   # -> Route
    ...                                   # connect; the engine refused? route = await router.reroute(route, why)
    route.release()                       # when the session ends: frees its place under group caps
    explanation = await router.explain(principal)                    # `adhoc route explain`, same code

Candidates: the engines `[routing] policy` offers (auto: yarn engines, then k8s, then local, each
in config order; yarn / k8s: only that kind), narrowed by the session's `adhoc.route` (a kind or an
engine name) and by the user's policy `routes`. The first candidate whose figures (see figures.py)
say it can take one more session wins. When none can, or a group the user belongs to is at its
`max_sessions` cap, the session waits in one FIFO queue: waiters are re-examined in order whenever
a session ends and whenever figures go stale, each taking only capacity no earlier waiter could use,
until `queue_timeout_s`, when OpenSession fails naming the wait and every engine's figures.

With several replicas (`peers`: see peers.py) all of this holds fleet-wide; a waiter here lets an
earlier one elsewhere that could go now go first, for at most `yield_limit_s` (never a stall).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from adhoc.auth import Principal
from adhoc.engines import Engine
from adhoc.errors import EngineUnavailable, PermissionDenied
from adhoc.routing.clock import Clock, MonotonicClock
from adhoc.routing.explain import EngineView, Explanation, QueueEntry
from adhoc.routing.metrics import RoutingMetrics
from adhoc.routing.peers import NoPeers, Peers, PeerWaiter
from adhoc.routing.probing import Probe, ProbeCache, Snapshot
from adhoc.routing.route import (
    KIND_ORDER,
    Blocked,
    EngineFilter,
    GroupLimits,
    Hold,
    Route,
    Waiter,
    any_engine,
    no_limits,
)


class CapacityRouter:
    def __init__(
        self,
        engines: Sequence[Engine],
        probes: Mapping[str, Probe],
        *,
        policy: str = "auto",
        probe_ttl_s: float = 5.0,
        queue_timeout_s: float = 300.0,
        limits: GroupLimits = no_limits,
        clock: Clock | None = None,
        metrics: RoutingMetrics | None = None,
        peers: Peers | None = None,
    ) -> None:
        self._engines = list(engines)
        self._by_name = {e.name: e for e in self._engines}
        self.policy = policy
        self.clock = clock or MonotonicClock()
        self.cache = ProbeCache(probes, ttl_s=probe_ttl_s, clock=self.clock)
        self.queue_timeout_s = queue_timeout_s
        self.limits = limits
        self.peers: Peers = NoPeers()
        self.use_peers(peers or NoPeers())
        # how long a waiter here lets an earlier waiter elsewhere go first (the other replica's view
        # of the figures may differ for up to a probe TTL, or it may hang)
        self.yield_limit_s = max(2 * probe_ttl_s, 5.0)
        self._yielding: dict[int, float] = {}  # a peer waiter's seq -> when we first let it go first
        self.metrics = metrics or RoutingMetrics()
        self.metrics.watch(self)
        self._holds: dict[int, Hold] = {}
        self._hold_ids = itertools.count(1)
        self._waiters: list[Waiter] = []
        self._stopping = ""  # the gateway is stopping: why no session may wait any more
        self._wakeup = asyncio.Event()
        self._pump_task: asyncio.Task[None] | None = None

    def engines(self) -> Sequence[Engine]:
        return self._engines

    def use_peers(self, peers: Peers) -> None:
        """Count other replicas' sessions, placements and waiters ([ha])."""
        self.peers = peers
        peers.on_change = self._kick

    # -- the decision -------------------------------------------------------------------------

    def candidates(
        self, principal: Principal, requested: str | None, allowed: EngineFilter = any_engine
    ) -> list[Engine]:
        """The engines this session may use, in preference order; PermissionDenied names the rule."""
        offered = [e for e in self._engines if self.policy == "auto" or e.kind == self.policy]
        if self.policy == "auto":
            offered.sort(key=lambda e: KIND_ORDER.get(e.kind, 9))
        if requested:
            wanted = requested.strip().lower()
            known = {e.name.lower() for e in self._engines} | {e.kind for e in self._engines}
            if wanted not in known:
                names = ", ".join(sorted({e.name for e in self._engines} | {e.kind for e in self._engines}))
                raise PermissionDenied(f"unknown route {requested!r} (adhoc.route): this gateway offers {names}")
            offered = [e for e in offered if wanted in (e.name.lower(), e.kind)]
            if not offered:
                raise PermissionDenied(f"route {requested!r} (adhoc.route) is not offered: [routing] policy = "
                                       f"{self.policy!r}")  # fmt: skip
        allowed_here = [e for e in offered if allowed(e)]
        if not allowed_here:
            what = f"route {requested!r} (adhoc.route)" if requested else "any engine of this gateway"
            raise PermissionDenied(f"permission denied: {principal.name} may not use {what} (policy routes)")
        return allowed_here

    async def _decide(self, principal: Principal, candidates: Sequence[Engine], exclude: frozenset[str],
                      commit: bool) -> Route | Blocked:  # fmt: skip
        eligible = [e for e in candidates if e.name not in exclude]
        # All at once: a hanging RM must not delay the k8s figures the session falls back on.
        snapshots = await self.cache.get_all(eligible)
        # From here on nothing awaits until the choice is held here (the caps checked are the caps
        # held); then one await, for the fleet's exact claim on the groups' caps.
        caps = dict(self.limits(principal))
        for group, cap in sorted(caps.items()):
            held = self.group_open(group)
            if held >= cap:
                return Blocked(f"group {group} is at its session cap ({held} open, max_sessions = {cap})")
        notes: list[str] = []
        full = False
        for engine, snapshot in zip(eligible, snapshots, strict=True):
            assessment = snapshot.figures.assess(self.placed(engine, snapshot))
            if not assessment.available:
                notes.append(f"{engine.name} {assessment.reason}")
                full = full or assessment.full
                continue
            reason = f"routed to {engine.name}: " + "; ".join([*notes, f"{engine.name} {assessment.reason}"])
            hold = Hold(principal, tuple(candidates), frozenset(caps), exclude)
            if commit:
                self.cache.place(engine)
                self._hold(hold)
                refusal = await self._claim(hold, engine, caps)
                if refusal:
                    return Blocked(refusal)
                self.peers.placed(engine.name)
            return Route(engine, reason, hold=hold)
        return Blocked("no engine can take a new session: " + "; ".join(notes), waitable=full)

    def _hold(self, hold: Hold) -> None:
        hold_id = next(self._hold_ids)
        self._holds[hold_id] = hold

        def release() -> None:
            if self._holds.pop(hold_id, None) is not None:
                self.peers.release_groups(hold.claim)
                self._kick()

        hold.release = release

    async def _claim(self, hold: Hold, engine: Engine, caps: Mapping[str, int]) -> str:
        """The exact fleet-wide cap check, after the local one: held here, then claimed in the fleet
        (no-op with one replica). Refused: the hold and placement are undone and the reason returned."""

        def undo() -> None:
            hold.release()
            self.cache.unplace(engine)

        try:
            hold.claim, refusal = await self.peers.claim_groups(caps)
        except BaseException:  # ZooKeeper unreachable (EngineUnavailable), or the session gave up
            undo()
            raise
        if refusal:
            undo()
        return refusal

    def group_open(self, group: str) -> int:
        return sum(1 for h in self._holds.values() if group in h.groups) + self.peers.group_sessions(group)

    def placed(self, engine: Engine, snapshot: Snapshot) -> int:
        """Sessions sent to the engine since its figures were taken, by this replica and the others."""
        return self.cache.placed(engine) + self.peers.placed_since(engine.name, self.clock.now() - snapshot.taken_at)

    def _could_go(self, peer: PeerWaiter) -> bool:
        """Would another replica's waiter be admitted now, by this replica's figures?"""
        if any(self.group_open(group) >= cap for group, cap in peer.caps.items()):
            return False
        engines = [self._by_name[name] for name in peer.engines if name in self._by_name]
        snapshots = [(e, self.cache.last(e)) for e in engines]
        return any(s is not None and s.figures.assess(self.placed(e, s)).available for e, s in snapshots)

    def _earlier_elsewhere(self, waiter: Waiter) -> PeerWaiter | None:
        """An earlier waiter on another replica that could go now: this one lets it go first."""
        now = self.clock.now()
        for peer in self.peers.waiting():
            if peer.seq >= waiter.ticket.seq:
                break
            if not self._could_go(peer):
                self._yielding.pop(peer.seq, None)
                continue
            if now - self._yielding.setdefault(peer.seq, now) < self.yield_limit_s:
                return peer
        return None

    def kick(self) -> None:
        """Something outside changed (another replica's sessions): look at the queue again."""
        self._kick()

    # -- routing ------------------------------------------------------------------------------

    async def route(self, principal: Principal, requested: str | None, allowed: EngineFilter = any_engine) -> Route:
        candidates = tuple(self.candidates(principal, requested, allowed))
        route = await self._admit(principal, candidates, frozenset())
        return replace(route, reason=f"requested route {requested!r}; {route.reason}") if requested else route

    async def reroute(self, route: Route, failure: str) -> Route:
        """The routed engine refused the connection: forget its figures, try the next candidate."""
        route.release()
        self.cache.forget(route.engine)
        self.metrics.refused(route.engine.name)
        hold = route.hold
        if hold is None:
            raise EngineUnavailable(f"engine {route.engine.name} refused the connection: {failure}")
        exclude = hold.tried | {route.engine.name}
        if all(e.name in exclude for e in hold.candidates):
            raise EngineUnavailable(f"engine {route.engine.name} refused the connection ({failure}) and no other "
                                    f"engine may take this session")  # fmt: skip
        new = await self._admit(hold.principal, hold.candidates, exclude)
        return replace(new, reason=f"{route.engine.name} refused the connection ({failure}); {new.reason}")

    async def _admit(self, principal: Principal, candidates: tuple[Engine, ...], exclude: frozenset[str]) -> Route:
        # With others waiting, a newcomer only looks (it must not take capacity ahead of them).
        ahead = len(self._waiters) + sum(1 for p in self.peers.waiting() if self._could_go(p))
        quiet = ahead == 0
        outcome = await self._decide(principal, candidates, exclude, commit=quiet)
        if isinstance(outcome, Route) and quiet:
            self.metrics.routed(outcome, "rerouted" if exclude else _how(outcome))
            return outcome
        if isinstance(outcome, Blocked) and not outcome.waitable:
            # Every candidate is down, not full: waiting would only hide that for queue_timeout_s.
            raise EngineUnavailable(outcome.reason)
        if self._stopping:
            raise EngineUnavailable(self._stopping)
        blocked = outcome.reason if isinstance(outcome, Blocked) else f"{ahead} session(s) waiting ahead"
        return await self._wait(principal, candidates, exclude, blocked)

    async def _wait(self, principal: Principal, candidates: tuple[Engine, ...], exclude: frozenset[str],
                    blocked: str) -> Route:  # fmt: skip
        loop = asyncio.get_running_loop()
        caps = dict(self.limits(principal))
        ticket = await self.peers.enqueue(principal.name, caps, [e.name for e in candidates if e.name not in exclude])
        waiter = Waiter(principal, candidates, exclude, self.clock.now(), loop.create_future(), blocked, ticket)
        # in fleet order (two enqueues may come back in either order)
        at = next((i for i, w in enumerate(self._waiters) if w.ticket.seq > ticket.seq), len(self._waiters))
        self._waiters.insert(at, waiter)
        self._kick()
        deadline = waiter.enqueued_at + self.queue_timeout_s
        delivered = False
        try:
            while not waiter.future.done() and self.clock.now() < deadline:
                sleeper = asyncio.ensure_future(self.clock.sleep(deadline - self.clock.now()))
                either: set[asyncio.Future[Any]] = {waiter.future, sleeper}
                try:
                    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sleeper.cancel()
            waited = self.clock.now() - waiter.enqueued_at
            if waiter.future.done():
                route = waiter.future.result()
                delivered = True
                self.metrics.routed(route, "queued", waited)
                return replace(route, queued_ms=int(waited * 1000),
                               reason=f"{route.reason} (after {waited:.1f}s in the queue)")  # fmt: skip
            self.metrics.timed_out()
            figures = "; ".join(f"{v.name}: {v.reason}" for v in await self.engine_views())
            raise EngineUnavailable(f"no engine could take the session within queue_timeout_s = "
                                    f"{self.queue_timeout_s:g}s (waited {waited:.1f}s in the queue): "
                                    f"{waiter.blocked}. Engines now: {figures}")  # fmt: skip
        finally:
            self.peers.dequeue(waiter.ticket)
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                self._kick()
            if waiter.future.done() and not delivered and waiter.future.exception() is None:
                waiter.future.result().release()  # admitted as we gave up (or were cancelled)

    def _kick(self) -> None:
        """Something changed (a session ended, a waiter came or went): look at the queue again."""
        if not self._waiters:
            return
        self._wakeup.set()
        if self._pump_task is None or self._pump_task.done():
            self._pump_task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        while self._waiters:
            self._wakeup.clear()
            # Fresh figures for every waiter's engines first, so one pass decides on one view: were a
            # probe to land between two waiters' decisions, a later waiter could take the room that
            # an earlier one was refused a moment before (first come must be first served).
            await self.cache.get_all(list({e.name: e for w in self._waiters for e in w.candidates}.values()))
            waiting_elsewhere = {p.seq for p in self.peers.waiting()}
            self._yielding = {seq: t for seq, t in self._yielding.items() if seq in waiting_elsewhere}
            for waiter in list(self._waiters):
                ahead = self._earlier_elsewhere(waiter)
                if ahead is not None:
                    waiter.blocked = f"behind {ahead.user}'s session, queued earlier on replica {ahead.replica}"
                    continue
                try:
                    outcome = await self._decide(waiter.principal, waiter.candidates, waiter.exclude, commit=True)
                except EngineUnavailable as e:  # the fleet's claim could not be made (ZooKeeper away)
                    if waiter in self._waiters and not waiter.future.done():
                        self._waiters.remove(waiter)
                        waiter.future.set_exception(e)
                    continue
                if isinstance(outcome, Blocked):
                    waiter.blocked = outcome.reason
                elif waiter in self._waiters and not waiter.future.done():
                    self._waiters.remove(waiter)
                    waiter.future.set_result(outcome)
                else:  # it left while we were deciding
                    outcome.release()
            if not self._waiters:
                return
            # Look again when the figures the waiters depend on go stale (or something changes).
            relevant = list({e.name: e for w in self._waiters for e in w.candidates}.values())
            recheck = max(self.cache.expires_in(relevant), 0.05)
            if self._yielding:  # the limit on letting others go first runs out without an event
                recheck = min(recheck, 0.5)
            sleeper = asyncio.ensure_future(self.clock.sleep(recheck))
            woken = asyncio.ensure_future(self._wakeup.wait())
            try:
                await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                woken.cancel()

    # -- what users see -----------------------------------------------------------------------

    def queue(self) -> list[QueueEntry]:
        """The fleet's queue in order: this replica's waiters and (with [ha]) the others'."""
        now = self.clock.now()
        entries = [(w.ticket.seq, w.principal.name, now - w.enqueued_at, w.blocked, "") for w in self._waiters]
        entries += [(p.seq, p.user, p.waited_s, f"waiting on replica {p.replica}", p.replica)
                    for p in self.peers.waiting()]  # fmt: skip
        entries.sort(key=lambda e: e[0])
        return [QueueEntry(i + 1, user, waited, reason, replica)
                for i, (_, user, waited, reason, replica) in enumerate(entries)]  # fmt: skip

    async def engine_views(self, engines: Sequence[Engine] | None = None) -> list[EngineView]:
        """Every engine's current figures (probing the stale ones, all at once)."""
        engines = list(engines if engines is not None else self._engines)
        snapshots = await self.cache.get_all(engines)
        now = self.clock.now()
        return [EngineView.of(e, s.figures.assess(self.placed(e, s)), now - s.taken_at)
                for e, s in zip(engines, snapshots, strict=True)]  # fmt: skip

    async def explain(self, principal: Principal, requested: str | None = None,
                      allowed: EngineFilter = any_engine) -> Explanation:  # fmt: skip
        """What route() would do for this principal now, with every engine's figures."""
        views = await self.engine_views()
        try:
            candidates = self.candidates(principal, requested, allowed)
        except PermissionDenied as e:
            candidates, refusal = [], e.message
        names = {e.name for e in candidates}
        views = [v if v.name in names else v.not_offered(principal.name, allowed(self._by_name[v.name])) for v in views]
        if not candidates:
            return Explanation(None, f"no session: {refusal}", views, self.queue(), refused=True)
        outcome = await self._decide(principal, candidates, frozenset(), commit=False)
        if isinstance(outcome, Route):
            return Explanation(outcome.engine, outcome.reason, views, self.queue())
        reason = f"would wait in the queue: {outcome.reason}" if outcome.waitable else f"would fail: {outcome.reason}"
        return Explanation(None, reason, views, self.queue())

    def refuse_waiting(self, reason: str) -> int:
        """The gateway is stopping: sessions waiting here fail now, naming `reason`, and none may
        start waiting (a client holding on until the drain times out is better told to connect
        again, which with several replicas lands on another). Returns how many were waiting."""
        self._stopping = reason
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.future.done():
                waiter.future.set_exception(EngineUnavailable(reason))
        return len(waiters)

    def status(self) -> dict[str, Any]:
        queue = self.queue()
        return {"queue_length": len(queue), "queue": [q.to_json() for q in queue]}

    async def close(self) -> None:
        if self._pump_task is not None:
            self._pump_task.cancel()
        self.cache.cancel()
        for probe in self.cache.probes.values():
            closer = getattr(probe, "close", None)
            if closer is not None:
                await closer()


def _how(route: Route) -> str:
    """Metrics label: the first candidate took it, or earlier ones were full (their notes come first)."""
    return "fallback" if "; " in route.reason else "preferred"
