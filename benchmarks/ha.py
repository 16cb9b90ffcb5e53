"""Replicas on ZooKeeper: what [ha] costs an OpenSession, and what a rolling restart costs clients.

    python -m benchmarks.ha [--sessions 300] [--clients 20] [--seconds 20]
    python -m benchmarks.ha --real [--seconds 20]     # the rolling restart with real parts (~2 min)

1. OpenSession p50/p99 through one gateway with [ha] off vs on (a real ZooKeeper on loopback: the
   fleet-wide count is one create + one list + one background set per session). Goal: <= +5 ms p50.
2. A rolling restart: three replicas registered in ZooKeeper; `--clients` clients pick a replica as
   Hive JDBC does (a random child of /adhoc, another on failure) and run statements in a loop; each
   replica in turn leaves discovery, drains and stops, and a new one starts and registers. Printed:
   statements completed, statements that failed after being sent (goal 0), and reconnects (a
   client whose idle connection the draining replica let go reconnects through ZooKeeper, as Hive
   JDBC's connection pools do).
The engine is the in-process fake (benchmarks/fake_engine.py): the figures are the gateway's own.
3. `--real` instead: three `adhoc serve` processes, one Spark Thrift Server, 16 pyhive clients and 4
   beeline processes through ZooKeeper, each replica SIGTERMed and started again in turn
   (tests/ha/rolling.py, the scenario tests/ha/test_rolling_restart.py asserts): statements lost
   (goal 0) and the peak of open sessions per user and in a capped group, sampled from ZooKeeper.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from kazoo.client import KazooClient
from TCLIService import ttypes

from adhoc.config import Config, EngineConfig, HaConfig, ServerConfig
from adhoc.engines import Engine
from adhoc.gateway.context import GatewayContext
from adhoc.gateway.server import ThriftServer
from adhoc.ha.zookeeper import ZooKeeperFleet
from adhoc.routing import CapacityRouter
from benchmarks.fake_engine import FakeEngine
from tests.fakes.probes import ScriptedProbe
from tests.gateway.fast.conftest import Client
from tests.ha.zookeeper import ZooKeeperServer

ENGINE = Engine("fake", "local", "sts", "127.0.0.1", 1)


class Replica:
    def __init__(self, fake: FakeEngine, zk_hosts: str) -> None:
        self.config = Config(
            server=ServerConfig(host="127.0.0.1", thrift_port=0, http_port=0, drain_timeout_s=5.0),
            engines=(EngineConfig(name="fake", kind="local", protocol="sts", address="127.0.0.1:1"),),
            ha=HaConfig(zookeeper=zk_hosts) if zk_hosts else HaConfig(),
        )
        self.ctx = GatewayContext(self.config, CapacityRouter([ENGINE], {ENGINE.name: ScriptedProbe()}),
                                  connect_engine=fake.connector)  # fmt: skip
        self.server = ThriftServer(self.ctx)
        self.fleet: ZooKeeperFleet | None = None

    async def start(self) -> Replica:
        if self.config.ha.zookeeper:
            self.fleet = ZooKeeperFleet(self.config)
            await self.fleet.start()
            self.ctx.fleet = self.fleet
            self.ctx.sessions.subscribe(self.fleet)
        await self.server.start("127.0.0.1", 0)
        if self.fleet is not None:
            await self.fleet.register(self.server.address[1])
        return self

    async def stop(self) -> None:
        if self.fleet is not None:
            await self.fleet.deregister()  # what SIGTERM does first
        await self.server.stop(self.config.server.drain_timeout_s)
        if self.fleet is not None:
            await self.fleet.stop()


async def open_session_latency(fake: FakeEngine, zk_hosts: str, n: int) -> list[float]:
    replica = await Replica(fake, zk_hosts).start()
    client = await Client.connect(replica.server.address[1])
    samples = []
    try:
        for i in range(n):
            started = time.perf_counter()
            session = await client.open_session(user=f"user{i % 50}")
            samples.append((time.perf_counter() - started) * 1000)
            await client.call("CloseSession", ttypes.TCloseSessionReq(session))
    finally:
        client.close()
        await replica.stop()
    return samples


async def rolling_restart(fake: FakeEngine, zk: ZooKeeperServer, clients: int, seconds: float) -> None:
    replicas = [await Replica(fake, zk.hosts).start() for _ in range(3)]
    directory = KazooClient(hosts=zk.hosts)
    await asyncio.to_thread(directory.start, 10)
    done = failed = reconnects = 0
    stop_at = time.monotonic() + seconds

    async def connect() -> tuple[Client, object]:
        children = await asyncio.to_thread(directory.get_children, "/adhoc")
        random.shuffle(children)
        for child in children:
            port = int(child.split(";")[0].rsplit(":", 1)[1])
            try:
                client = await Client.connect(port)
                return client, await client.open_session()
            except (OSError, AssertionError, asyncio.IncompleteReadError):
                continue
        raise ConnectionError("no replica in ZooKeeper took the connection")

    async def worker() -> None:
        nonlocal done, failed, reconnects
        client, session = await connect()
        while time.monotonic() < stop_at:
            try:
                await client.send("ExecuteStatement", ttypes.TExecuteStatementReq(session, "SELECT 1"))
            except OSError:
                client, session = await connect()
                reconnects += 1
                continue
            try:
                reply = await asyncio.wait_for(client.receive("ExecuteStatement"), 10)
                done += reply.status.statusCode == 0
                failed += reply.status.statusCode != 0
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                # the replica let an idle connection go between two statements: nothing was lost if
                # it never read the statement; count it as a reconnect when the engine never saw it
                client.close()
                client, session = await connect()
                reconnects += 1
            await asyncio.sleep(0.01)
        client.close()

    workers = [asyncio.create_task(worker()) for _ in range(clients)]
    await asyncio.sleep(seconds / 5)
    for i in range(3):  # one by one: leave, drain, stop; a new one takes its place
        old = replicas[i]
        replicas[i] = await Replica(fake, zk.hosts).start()
        await old.stop()
        await asyncio.sleep(seconds / 5)
    await asyncio.gather(*workers)
    for r in replicas:
        await r.stop()
    directory.stop()
    directory.close()
    print(f"rolling restart of 3 replicas under {clients} clients for {seconds:g} s: {done} statements done, "
          f"{failed} failed (goal 0), {reconnects} reconnects through ZooKeeper")  # fmt: skip


def quantile(samples: list[float], q: float) -> float:
    return sorted(samples)[min(len(samples) - 1, int(q * len(samples)))]


async def run(args: argparse.Namespace) -> None:
    zk = ZooKeeperServer(Path(tempfile.mkdtemp()) / "zk").start()
    fake = FakeEngine()
    try:
        off = await open_session_latency(fake, "", args.sessions)
        on = await open_session_latency(fake, zk.hosts, args.sessions)
        off2 = await open_session_latency(fake, "", args.sessions)  # interleaved: load drifts
        off = off + off2
        added = statistics.median(on) - statistics.median(off)
        print(f"OpenSession [ha] off: p50 {statistics.median(off):.2f} ms  p99 {quantile(off, 0.99):.2f} ms")
        print(f"OpenSession [ha] on : p50 {statistics.median(on):.2f} ms  p99 {quantile(on, 0.99):.2f} ms   "
              f"added p50 {added:+.2f} ms (goal <= +5 ms)")  # fmt: skip
        await rolling_restart(fake, zk, args.clients, args.seconds)
    finally:
        zk.stop()


def real(seconds: float) -> None:
    from tests.ha.rolling import POLICY, replica_config, rolling_restart
    from tests.logs.served import ServedGateway
    from tests.sts import start_sts

    tmp = Path(tempfile.mkdtemp())
    zk = ZooKeeperServer(tmp / "zk").start()
    sts = start_sts()
    (tmp / "policy.toml").write_text(POLICY)
    replicas = [ServedGateway(replica_config(tmp, i, sts, zk)) for i in range(3)]
    try:
        for replica in replicas:
            replica.start()
        print(rolling_restart(replicas, zk, settle_s=seconds / 4).summary() + " (goal: 0 lost, peaks <= max)")
    finally:
        for replica in replicas:
            replica.stop()
        sts.stop()
        zk.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--real", action="store_true", help="the rolling restart with adhoc serve, STS, beeline")
    args = parser.parse_args()
    if args.real:
        real(args.seconds)
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
