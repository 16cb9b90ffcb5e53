"""The router with other replicas ([ha]): their placements use headroom, their sessions fill group
caps, and the queue is one fleet-wide FIFO — scripted peers and a fake clock (the ZooKeeper side of
the same facts is tested in tests/ha with a real ZooKeeper)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping, Sequence

from adhoc.routing import CapacityRouter
from adhoc.routing.clock import FakeClock
from adhoc.routing.peers import PeerWaiter, Ticket
from tests.fakes.probes import ScriptedProbe, k8s_room, yarn_load
from tests.routing.test_router import ALICE, BOB, K8S, YARN


class ScriptedPeers:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.on_change: Callable[[], None] = lambda: None
        self.groups: dict[str, int] = {}  # other replicas' sessions per group, as their notifications said
        self.unheard: dict[str, int] = {}  # ... and those whose notification has not arrived yet
        self.claims: dict[str, set[str]] = {}  # our claims: token -> groups
        self.placements: list[tuple[str, float]] = []  # (engine, clock time) placed by other replicas
        self.placed_here: list[str] = []
        self.others: list[PeerWaiter] = []
        self.tickets: list[Ticket] = []
        self._seq = itertools.count(100)

    def group_sessions(self, group: str) -> int:
        return self.groups.get(group, 0)

    async def claim_groups(self, caps: Mapping[str, int]) -> tuple[str, str]:
        for group, cap in sorted(caps.items()):
            ahead = self.groups.get(group, 0) + self.unheard.get(group, 0)
            ahead += sum(1 for groups in self.claims.values() if group in groups)
            if ahead >= cap:
                return "", f"group {group} is at its session cap ({ahead} open, max_sessions = {cap})"
        token = f"claim-{len(self.claims) + 1}"
        self.claims[token] = set(caps)
        return token, ""

    def release_groups(self, token: str) -> None:
        self.claims.pop(token, None)

    def placed_since(self, engine: str, age_s: float) -> int:
        return sum(1 for name, at in self.placements if name == engine and at > self.clock.now() - age_s)

    def placed(self, engine: str) -> None:
        self.placed_here.append(engine)

    async def enqueue(self, user: str, caps: Mapping[str, int], engines: Sequence[str]) -> Ticket:
        ticket = Ticket(next(self._seq))
        self.tickets.append(ticket)
        return ticket

    def dequeue(self, ticket: Ticket) -> None:
        self.tickets.remove(ticket)

    def waiting(self) -> Sequence[PeerWaiter]:
        return sorted(self.others, key=lambda p: p.seq)


def setup(policy: str = "auto") -> tuple[CapacityRouter, ScriptedPeers, FakeClock, ScriptedProbe]:
    clock = FakeClock()
    yarn = ScriptedProbe(yarn_load(80))  # room for two sessions: 80 + 2 x 5 reaches the 90% saturation
    router = CapacityRouter([YARN, K8S], {"yarn-main": yarn, "k8s-a": ScriptedProbe(k8s_room(16, 64))},
                            policy=policy, probe_ttl_s=5, queue_timeout_s=120, clock=clock,
                            limits=lambda p: {"bi": 1} if "bi" in p.groups else {})  # fmt: skip
    peers = ScriptedPeers(clock)
    router.use_peers(peers)
    return router, peers, clock, yarn


async def settle() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


async def test_sessions_other_replicas_placed_since_the_probe_count_against_headroom() -> None:
    router, peers, clock, yarn = setup()
    assert (await router.route(ALICE, None)).engine is YARN
    assert peers.placed_here == ["yarn-main"]  # told to the others
    clock.time += 1
    peers.placements.append(("yarn-main", clock.now()))  # another replica sent one there after our probe
    clock.time += 1
    route = await router.route(ALICE, None)
    assert route.engine is K8S
    assert "yarn-main saturated: queue root.adhoc at 80% of max + 2 placed since the probe" in route.reason
    clock.time += 5  # a fresh probe reflects both sessions, so neither is counted on top of it
    yarn.figures = yarn_load(80)
    assert (await router.route(ALICE, None)).engine is YARN


async def test_other_replicas_sessions_fill_a_group_cap() -> None:
    router, peers, _, _ = setup()
    peers.groups["bi"] = 1
    waiting = asyncio.ensure_future(router.route(BOB, None))
    await settle()
    [entry] = router.queue()
    assert entry.user == "bob" and entry.reason == "group bi is at its session cap (1 open, max_sessions = 1)"
    peers.groups["bi"] = 0  # the other replica's session ended
    peers.on_change()
    await settle()
    assert (await waiting).engine is YARN


async def test_a_session_another_replica_admitted_a_moment_ago_is_counted_by_the_fleets_claim() -> None:
    router, peers, _, _ = setup()
    peers.unheard["bi"] = 1  # admitted elsewhere; its notification is still on its way here
    waiting = asyncio.ensure_future(router.route(BOB, None))
    await settle()
    [entry] = router.queue()
    assert entry.reason == "group bi is at its session cap (1 open, max_sessions = 1)"
    assert router.group_open("bi") == 0 and peers.claims == {}  # nothing left held by the refusal
    assert router.cache.placed(YARN) == 0  # nor a placement
    peers.unheard["bi"] = 0
    peers.on_change()
    await settle()
    route = await waiting
    assert route.engine is YARN and list(peers.claims.values()) == [{"bi"}]
    route.release()
    assert peers.claims == {}


async def test_a_waiter_lets_an_earlier_waiter_on_another_replica_go_first() -> None:
    router, peers, clock, yarn = setup(policy="yarn")
    yarn.figures = yarn_load(95)
    peers.others = [PeerWaiter(1, "zed", {}, ("yarn-main",), 3.0, "replica-b")]
    alice = asyncio.ensure_future(router.route(ALICE, None))
    await settle()
    assert [(q.position, q.user, q.replica) for q in router.queue()] == [(1, "zed", "replica-b"), (2, "alice", "")]
    assert router.status()["queue"][0]["replica"] == "replica-b"

    yarn.figures = yarn_load(85)  # room for exactly one: zed's, who came first
    await clock.advance(5)
    await settle()
    assert not alice.done()
    assert router.queue()[1].reason == "behind zed's session, queued earlier on replica replica-b"

    peers.others = []  # replica-b admitted zed to yarn, a second after our probe
    clock.time += 1
    peers.placements.append(("yarn-main", clock.now()))
    peers.on_change()
    await settle()
    assert not alice.done() and "saturated" in router.queue()[0].reason  # zed took the room

    yarn.figures = yarn_load(80)
    await clock.advance(5)
    await settle()
    route = await alice
    assert route.engine is YARN and route.queued_ms == 11_000
    assert peers.tickets == []  # its place in the fleet's queue is given back


async def test_a_replica_that_never_admits_its_earlier_waiter_holds_this_queue_for_a_bounded_time() -> None:
    router, peers, clock, yarn = setup(policy="yarn")
    yarn.figures = yarn_load(95)
    peers.others = [PeerWaiter(1, "zed", {}, ("yarn-main",), 3.0, "replica-b")]  # its replica hangs
    alice = asyncio.ensure_future(router.route(ALICE, None))
    await settle()
    yarn.figures = yarn_load(80)
    await clock.advance(5)
    for _ in range(int(router.yield_limit_s / 0.5)):
        assert not alice.done()
        await clock.advance(0.5)
        await settle()
    await clock.advance(0.5)
    await settle()
    assert (await alice).engine is YARN


async def test_a_newcomer_is_not_held_up_by_a_waiter_elsewhere_that_cannot_go() -> None:
    router, peers, _, _ = setup()
    peers.groups["bi"] = 1
    peers.others = [PeerWaiter(1, "ian", {"bi": 1}, ("yarn-main", "k8s-a"), 9.0, "replica-b")]
    route = await router.route(ALICE, None)
    assert route.engine is YARN and route.queued_ms == 0 and peers.tickets == []
    assert [q.user for q in router.queue()] == ["ian"]
