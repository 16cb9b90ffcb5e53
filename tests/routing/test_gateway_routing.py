"""Routing inside the gateway's OpenSession, against the in-process fake engine (no Spark): an
engine that refuses the connection, department caps that queue sessions, the queue's timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from TCLIService import ttypes

from adhoc.auth import Principal
from adhoc.engines import Engine
from adhoc.errors import EngineError
from adhoc.gateway.context import GatewayContext
from adhoc.gateway.server import ThriftServer
from adhoc.routing import CapacityRouter
from benchmarks.fake_engine import FakeEngine
from tests.fakes.probes import ScriptedProbe, yarn_load
from tests.gateway.fast.conftest import Client, config, eventually

YARN = Engine("yarn-main", "yarn", "kyuubi", "127.0.0.1", 1)
K8S = Engine("k8s-a", "k8s", "kyuubi", "127.0.0.1", 2)


class Gateway:
    def __init__(self, ctx: GatewayContext, server: ThriftServer, router: CapacityRouter) -> None:
        self.ctx, self.server, self.router = ctx, server, router

    async def client(self, user: str = "alice") -> Client:
        return await Client.connect(self.server.address[1], user)


async def start(limits: Mapping[str, int] | None = None, queue_timeout_s: float = 30,
                refuse: frozenset[str] = frozenset()) -> Gateway:  # fmt: skip
    fake = FakeEngine()

    async def connector(engine: Engine, user: str, password: str, timeout: float) -> Any:
        if engine.name in refuse:
            raise EngineError(f"engine {engine.name} at {engine.address} is unreachable: connection refused")
        return await fake.connector(engine, user, password, timeout)

    caps = dict(limits or {})
    probes = {"yarn-main": ScriptedProbe(yarn_load(10)), "k8s-a": ScriptedProbe()}
    router = CapacityRouter([YARN, K8S], probes, probe_ttl_s=60, queue_timeout_s=queue_timeout_s,
                            limits=lambda p: caps)  # fmt: skip
    ctx = GatewayContext(config(), router, connect_engine=connector)
    server = ThriftServer(ctx)
    await server.start("127.0.0.1", 0)
    return Gateway(ctx, server, router)


@pytest.fixture
async def stop() -> AsyncIterator[list[Gateway]]:
    started: list[Gateway] = []
    yield started
    for gw in started:
        await gw.server.stop(0)


async def open_raw(client: Client, user: str) -> Any:
    return await client.call("OpenSession", ttypes.TOpenSessionReq(client_protocol=5, username=user))


async def test_an_engine_refusing_the_connection_sends_the_session_to_the_next(stop: list[Gateway]) -> None:
    gw = await start(refuse=frozenset({"yarn-main"}))
    stop.append(gw)
    client = await gw.client()
    await client.open_session()
    [record] = gw.ctx.sessions.open_sessions()
    assert record.engine == "k8s-a"
    assert record.route_reason.startswith("yarn-main refused the connection (engine yarn-main at 127.0.0.1:1 is "
                                          "unreachable: connection refused); routed to k8s-a")  # fmt: skip
    assert gw.router.cache.last(YARN) is None  # forgotten, not kept as reachable
    client.close()


async def test_a_department_cap_queues_sessions_until_one_ends(stop: list[Gateway]) -> None:
    gw = await start(limits={"bi": 1})
    stop.append(gw)
    first = await gw.client("bob")
    session = await first.open_session("bob")
    second = await gw.client("carol")
    waiting = asyncio.ensure_future(open_raw(second, "carol"))
    await eventually(lambda: len(gw.router.queue()) == 1)
    [entry] = gw.router.queue()
    assert entry.user == "carol" and entry.reason == "group bi is at its session cap (1 open, max_sessions = 1)"
    await first.call("CloseSession", ttypes.TCloseSessionReq(session))
    resp = await asyncio.wait_for(waiting, 5)
    assert resp.status.statusCode == 0
    carol = next(r for r in gw.ctx.sessions.open_sessions() if r.user == "carol")
    assert carol.queued_ms > 0 and "in the queue" in carol.route_reason
    op = (await second.execute(resp.sessionHandle, "SELECT 1")).operationHandle
    logs = await second.fetch(op, log=True)
    lines = logs.results.columns[0].stringVal.values
    assert lines[0].startswith("[adhoc] session") and "in the queue" in lines[0]
    assert f"[adhoc] waited {carol.queued_ms} ms in the queue for capacity" in lines
    # A client that vanishes frees its place too (teardown closes its sessions).
    third = await gw.client("dan")
    waiting = asyncio.ensure_future(open_raw(third, "dan"))
    await eventually(lambda: [q.user for q in gw.router.queue()] == ["dan"])
    second.close()
    assert (await asyncio.wait_for(waiting, 5)).status.statusCode == 0
    first.close()
    third.close()


async def test_the_queue_timeout_fails_open_session_naming_the_wait(stop: list[Gateway]) -> None:
    gw = await start(limits={"bi": 0}, queue_timeout_s=0.2)
    stop.append(gw)
    client = await gw.client("bob")
    resp = await open_raw(client, "bob")
    assert resp.status.statusCode == ttypes.TStatusCode.ERROR_STATUS
    assert resp.status.sqlState == "08S01"
    assert "within queue_timeout_s = 0.2s" in resp.status.errorMessage
    assert "group bi is at its session cap (0 open, max_sessions = 0)" in resp.status.errorMessage
    assert "yarn-main: queue root.adhoc at 10% of max" in resp.status.errorMessage
    assert gw.router.queue() == []
    client.close()


def test_principal_groups_reach_the_limits() -> None:
    seen: list[Principal] = []
    router = CapacityRouter([K8S], {"k8s-a": ScriptedProbe()}, limits=lambda p: seen.append(p) or {})
    asyncio.run(router.route(Principal("bob", frozenset({"bi"})), None))
    assert seen[0].groups == frozenset({"bi"})
