"""Routing across two replicas on a real ZooKeeper: a session one replica places uses headroom the
other sees, and a waiter on one replica lets an earlier waiter on the other go first (one FIFO for
the fleet). The routers' probes are scripted (YARN cannot run here) and the figures are refreshed
when the test says so (a long TTL, then `forget`), so each step is one decision of one replica."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from prometheus_client import CollectorRegistry

from adhoc.auth import Principal
from adhoc.config import Config, EngineConfig, HaConfig, RoutingConfig
from adhoc.engines import Engine
from adhoc.ha.zookeeper import ZooKeeperFleet
from adhoc.routing import CapacityRouter, Route
from tests.fakes.probes import ScriptedProbe, yarn_load
from tests.ha.zookeeper import ZooKeeperServer

YARN = Engine("yarn-main", "yarn", "kyuubi", "127.0.0.1", 1)
ALICE, ZED = Principal("alice"), Principal("zed")
IAN, JO = Principal("ian", frozenset({"bi"})), Principal("jo", frozenset({"bi"}))


def bi_capped_at_one(principal: Principal) -> dict[str, int]:
    return {"bi": 1} if "bi" in principal.groups else {}


class Replica:
    def __init__(self, fleet: ZooKeeperFleet) -> None:
        self.fleet = fleet
        self.probe = ScriptedProbe(yarn_load(95))  # full: sessions wait
        self.router = CapacityRouter([YARN], {"yarn-main": self.probe}, policy="yarn", probe_ttl_s=60,
                                     queue_timeout_s=60, limits=bi_capped_at_one)  # fmt: skip
        self.router.use_peers(fleet.peers)

    def fresh_figures(self, used_pct: float) -> None:
        """The RM's figures change and this replica probes again (as its TTL running out would)."""
        self.probe.figures = yarn_load(used_pct)
        self.router.cache.forget(YARN)
        self.router.kick()


@pytest.fixture
async def replicas(zookeeper: ZooKeeperServer) -> AsyncIterator[tuple[Replica, Replica]]:
    config = Config(engines=(EngineConfig(name="yarn-main", address="127.0.0.1:1"),),
                    ha=HaConfig(zookeeper=zookeeper.hosts, session_timeout_s=4.0),
                    routing=RoutingConfig(probe_ttl_s=60))  # fmt: skip
    fleets = [ZooKeeperFleet(config, CollectorRegistry()) for _ in range(2)]
    for fleet in fleets:
        await fleet.start()
    a, b = Replica(fleets[0]), Replica(fleets[1])
    yield a, b
    for replica in (a, b):
        await replica.router.close()
        await replica.fleet.stop()


async def until(predicate: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_session_placed_by_one_replica_uses_headroom_the_other_sees(replicas: tuple[Replica, Replica]) -> None:
    a, b = replicas
    for replica in (a, b):
        replica.probe.figures = yarn_load(85)  # room for one more session
    await b.router.engine_views()  # b's figures are taken first
    await asyncio.sleep(0.01)
    route = await a.router.route(ALICE, None)
    assert route.engine is YARN
    await until(lambda: b.fleet.peers.placed_since("yarn-main", 30) == 1, "b to hear of a's placement")
    [view] = await b.router.engine_views()
    assert not view.available and "85% of max + 1 placed since the probe" in view.reason
    assert await a.router.engine_views() != []  # a, too, counts its own placement
    assert not (await a.router.engine_views())[0].available


async def test_a_waiter_lets_an_earlier_waiter_on_the_other_replica_go_first(replicas: tuple[Replica, Replica]) -> None:
    a, b = replicas
    zed = asyncio.ensure_future(b.router.route(ZED, None))
    await until(lambda: len(a.router.queue()) == 1, "a to see zed waiting on b")
    alice = asyncio.ensure_future(a.router.route(ALICE, None))
    await until(lambda: len(a.router.queue()) == 2, "alice to wait on a")
    assert [(q.position, q.user, bool(q.replica)) for q in a.router.queue()] == [(1, "zed", True), (2, "alice", False)]
    assert [(q.position, q.user) for q in b.router.queue()] == [(1, "zed"), (2, "alice")]  # one order for the fleet

    a.fresh_figures(85)  # room for one: a sees it first, but zed came first
    await until(lambda: a.router.queue()[1].reason.startswith("behind zed's session"), "alice to let zed go first")
    await asyncio.sleep(0.5)
    assert not alice.done()

    b.fresh_figures(85)
    zed_route: Route = await asyncio.wait_for(zed, 10)
    assert zed_route.engine is YARN
    await until(lambda: [q.user for q in a.router.queue()] == ["alice"], "zed to leave the fleet's queue")
    await asyncio.sleep(0.5)
    assert not alice.done(), "alice took the room zed's session had just used"
    assert "+ 1 placed since the probe" in a.router.queue()[0].reason

    a.fresh_figures(80)  # the RM's figures now include zed's session, and there is room again
    alice_route: Route = await asyncio.wait_for(alice, 10)
    assert alice_route.engine is YARN and alice_route.queued_ms > 0
    await until(lambda: b.router.queue() == [], "the fleet's queue to be empty")


async def test_two_replicas_admitting_one_group_at_the_same_moment_keep_its_cap(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    for replica in (a, b):
        replica.probe.figures = yarn_load(10)
        await replica.router.engine_views()
        assert replica.fleet.peers.group_sessions("bi") == 0  # watched from now on: no round trip to look
    ian = asyncio.ensure_future(a.router.route(IAN, None))
    jo = asyncio.ensure_future(b.router.route(JO, None))  # neither has heard of the other yet
    done, _ = await asyncio.wait({ian, jo}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    assert len(done) == 1
    await asyncio.sleep(0.5)
    assert not (ian.done() and jo.done()), "bi's cap of 1 was exceeded across replicas"
    first, second = (ian, jo) if ian.done() else (jo, ian)
    waiting_on = b if second is jo else a
    assert waiting_on.router.queue()[0].reason == "group bi is at its session cap (1 open, max_sessions = 1)"
    first.result().release()
    route: Route = await asyncio.wait_for(second, 10)
    assert route.engine is YARN
    route.release()
