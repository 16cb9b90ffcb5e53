"""The router's decisions, cache and queue, with scripted probes and a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from adhoc.auth import Principal
from adhoc.engines import Engine
from adhoc.errors import EngineUnavailable, PermissionDenied
from adhoc.routing import CapacityRouter, Route
from adhoc.routing.clock import FakeClock
from adhoc.routing.figures import Unreachable
from tests.fakes.probes import ScriptedProbe, k8s_room, yarn_load

YARN = Engine("yarn-main", "yarn", "kyuubi", "127.0.0.1", 1)
K8S = Engine("k8s-a", "k8s", "kyuubi", "127.0.0.1", 2)
LOCAL = Engine("laptop", "local", "sts", "127.0.0.1", 3)
ALICE, BOB, CAROL = Principal("alice"), Principal("bob", frozenset({"bi"})), Principal("carol", frozenset({"bi"}))


class Setup:
    def __init__(self, *, ttl: float = 5, queue_timeout: float = 60, policy: str = "auto", caps: int | None = None):
        self.clock = FakeClock()
        self.yarn = ScriptedProbe(yarn_load(40))
        self.k8s = ScriptedProbe(k8s_room(16, 64))
        self.local = ScriptedProbe()
        limits = (lambda p: {"bi": caps} if "bi" in p.groups else {}) if caps is not None else (lambda p: {})
        self.router = CapacityRouter(
            [LOCAL, K8S, YARN],  # config order; auto still prefers yarn, then k8s
            {"yarn-main": self.yarn, "k8s-a": self.k8s, "laptop": self.local},
            policy=policy, probe_ttl_s=ttl, queue_timeout_s=queue_timeout, clock=self.clock, limits=limits,
        )  # fmt: skip

    async def settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)


async def test_auto_prefers_yarn_then_k8s_then_local_and_says_why() -> None:
    s = Setup()
    route = await s.router.route(ALICE, None)
    assert route.engine is YARN
    assert route.reason == "routed to yarn-main: yarn-main queue root.adhoc at 40% of max (saturation 90%), 0 pending"
    s.yarn.figures = yarn_load(96, pending=3)
    s.clock.time += 5
    route = await s.router.route(ALICE, None)
    assert route.engine is K8S
    assert route.reason.startswith(
        "routed to k8s-a: yarn-main saturated: queue root.adhoc at 96% of max (saturation 90%), 3 pending; "
        "k8s-a namespace spark quota compute: 16 CPU and 64.0Gi free"
    )
    s.k8s.figures = Unreachable("the Kubernetes API could not be reached (connection refused)")
    s.clock.time += 5
    assert (await s.router.route(ALICE, None)).engine is LOCAL


async def test_policy_and_requested_route_narrow_and_refuse_with_the_rule() -> None:
    s = Setup(policy="k8s")
    assert (await s.router.route(ALICE, None)).engine is K8S
    with pytest.raises(PermissionDenied, match=r"route 'yarn' \(adhoc.route\) is not offered: \[routing\] policy"):
        await s.router.route(ALICE, "yarn")
    s = Setup()
    assert (await s.router.route(ALICE, "K8S-A")).engine is K8S
    with pytest.raises(PermissionDenied, match=r"alice may not use route 'k8s'.*policy routes"):
        await s.router.route(ALICE, "k8s", lambda e: e.kind == "yarn")
    with pytest.raises(PermissionDenied, match="unknown route 'mars'"):
        await s.router.route(ALICE, "mars")


async def test_a_burst_costs_one_probe_per_ttl() -> None:
    s = Setup()
    s.yarn.delay = 0.01
    routes = await asyncio.gather(*(s.router.route(ALICE, None) for _ in range(200)))
    assert s.yarn.calls == 1
    # 40% used, 5% a session, saturation 90%: ten sessions fit before a probe shows them, the rest go to k8s
    assert sum(r.engine is YARN for r in routes) == 10
    assert sum(r.engine is K8S for r in routes) == 4  # 16 CPU free, 4 a session
    assert sum(r.engine is LOCAL for r in routes) == 186
    s.clock.time += 5
    await s.router.route(ALICE, None)
    assert s.yarn.calls == 2  # stale: probed again, and the placed count starts over
    assert s.router.cache.placed(YARN) == 1


async def test_reroute_forgets_the_refusing_engine_and_takes_the_next() -> None:
    s = Setup()
    route = await s.router.route(ALICE, None)
    assert route.engine is YARN and s.yarn.calls == 1
    rerouted = await s.router.reroute(route, "connection refused")
    assert rerouted.engine is K8S
    assert rerouted.reason.startswith("yarn-main refused the connection (connection refused); routed to k8s-a")
    assert s.router.cache.last(YARN) is None  # not kept as "reachable" for its TTL
    assert (await s.router.route(ALICE, None)).engine is YARN and s.yarn.calls == 2


async def test_full_everywhere_waits_in_fifo_order_until_capacity_returns() -> None:
    s = Setup(policy="yarn", ttl=5)
    s.yarn.figures = yarn_load(95)
    tasks = [asyncio.ensure_future(s.router.route(p, None)) for p in (ALICE, BOB, CAROL)]
    await s.settle()
    assert [(q.position, q.user) for q in s.router.queue()] == [(1, "alice"), (2, "bob"), (3, "carol")]
    assert "saturated" in s.router.queue()[0].reason
    bob_gives_up = tasks[1]
    bob_gives_up.cancel()
    await s.settle()
    assert [q.user for q in s.router.queue()] == ["alice", "carol"]
    s.yarn.figures = yarn_load(80, share=0.05)  # room for two sessions (80 + 2 x 5 >= 90)
    await s.clock.advance(5)
    await s.settle()
    alice, carol = await tasks[0], await tasks[2]
    assert alice.engine is YARN and carol.engine is YARN
    assert alice.queued_ms == carol.queued_ms == 5000
    assert "after 5.0s in the queue" in alice.reason
    assert s.router.queue() == []


async def test_queue_timeout_names_the_wait_and_the_figures() -> None:
    s = Setup(policy="yarn", queue_timeout=30)
    s.yarn.figures = yarn_load(99, pending=4)
    waiting = asyncio.ensure_future(s.router.route(ALICE, None))
    await s.settle()
    await s.clock.advance(30)
    with pytest.raises(EngineUnavailable) as failed:
        await waiting
    message = failed.value.message
    assert "within queue_timeout_s = 30s (waited 30.0s in the queue)" in message
    assert "yarn-main: saturated: queue root.adhoc at 99% of max (saturation 90%), 4 pending" in message


async def test_group_cap_waits_with_the_cap_named_and_moves_when_a_session_ends() -> None:
    s = Setup(caps=1)
    first = await s.router.route(BOB, None)
    waiting = asyncio.ensure_future(s.router.route(CAROL, None))
    await s.settle()
    [entry] = s.router.queue()
    assert entry.user == "carol" and entry.reason == "group bi is at its session cap (1 open, max_sessions = 1)"
    assert (await s.router.route(ALICE, None)).engine is YARN  # not in bi: not held up by bi's cap
    first.release()
    first.release()  # twice is harmless
    await s.settle()
    second: Route = await waiting
    assert second.engine is YARN and s.router.group_open("bi") == 1


async def test_explain_is_the_same_decision_without_placing() -> None:
    s = Setup()
    s.yarn.figures = yarn_load(95)
    explanation = await s.router.explain(ALICE)
    assert explanation.engine is K8S and explanation.reason.startswith("routed to k8s-a: yarn-main saturated")
    assert s.router.cache.placed(K8S) == 0
    rows = {row["name"]: row for row in explanation.to_json()["engines"]}
    assert rows["yarn-main"]["available"] is False and rows["yarn-main"]["used_pct_of_max"] == 95
    assert rows["k8s-a"]["free_cpu"] == 16 and rows["laptop"]["available"] is True
    only_yarn = await s.router.explain(ALICE, "yarn")
    assert only_yarn.engine is None and only_yarn.reason.startswith("would wait in the queue")


async def test_engines_that_are_down_fail_at_once_instead_of_queueing() -> None:
    s = Setup(policy="yarn")
    s.yarn.figures = Unreachable("no ResourceManager could be reached (http://rm1:8088: timed out)")
    with pytest.raises(EngineUnavailable, match="yarn-main no ResourceManager could be reached"):
        await s.router.route(ALICE, None)
    assert s.router.queue() == []
    explanation = await s.router.explain(ALICE)
    assert explanation.engine is None and explanation.reason.startswith("would fail: no engine can take")


async def test_a_stopping_gateway_tells_waiters_to_connect_again_and_queues_no_one_new() -> None:
    s = Setup(policy="yarn")
    s.yarn.figures = yarn_load(95)
    waiting = asyncio.ensure_future(s.router.route(ALICE, None))
    await s.settle()
    assert s.router.refuse_waiting("adhoc is stopping: connect again") == 1
    with pytest.raises(EngineUnavailable, match="adhoc is stopping: connect again"):
        await waiting
    with pytest.raises(EngineUnavailable, match="adhoc is stopping"):
        await s.router.route(BOB, None)  # would wait: refused at once
    s.yarn.figures = yarn_load(10)
    s.clock.time += 5
    assert (await s.router.route(CAROL, None)).engine is YARN  # room: still routed while the drain runs
    assert s.router.queue() == []
