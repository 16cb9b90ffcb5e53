"""Routing: what a decision costs, and what bursts and a hanging ResourceManager cost.

    python -m benchmarks.routing

Targets (issue 10): a routing decision with a warm cache p99 <= 1 ms; 200 concurrent session opens
cost one RM call per probe TTL; with a hanging RM the first open waits at most its probe timeout
and the rest not at all. The router is the gateway's own (`build_router`), with its real probes:
the YARN probe against a loopback ResourceManager, the K8s probe through the `kubernetes` client
against a loopback API server, TCP probes against listening sockets.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from adhoc.auth import Principal
from adhoc.config import Config, EngineConfig, RoutingConfig
from adhoc.engines import Engine
from adhoc.routing import CapacityRouter, build_router
from adhoc.routing.clock import FakeClock
from tests.fakes.k8s_api import FakeKubeApi
from tests.fakes.yarn_rm import FakeResourceManager

PATH = "/ws/v1/cluster/scheduler"
ALICE = Principal("alice")


def config(rm: FakeResourceManager, kubeconfig: Path, ports: list[int], *, ttl: float, timeout: float = 1.0,
           share: float = 0.05) -> Config:  # fmt: skip
    return Config(
        routing=RoutingConfig(probe_ttl_s=ttl, queue_timeout_s=5, probe_timeout_s=timeout),
        engines=(
            EngineConfig(name="yarn-main", kind="yarn", protocol="kyuubi", address=f"127.0.0.1:{ports[0]}",
                         rm_urls=(rm.url,), queue="root.adhoc", session_share=share),
            EngineConfig(name="k8s-a", kind="k8s", protocol="kyuubi", address=f"127.0.0.1:{ports[1]}",
                         kubeconfig=str(kubeconfig), namespace="spark"),
        ),
    )  # fmt: skip


def router_for(cfg: Config, clock: FakeClock | None = None) -> CapacityRouter:
    return build_router(cfg, [Engine.from_config(e) for e in cfg.engines], clock=clock)


async def decisions(router: CapacityRouter, n: int) -> list[float]:
    await router.route(ALICE, None)  # warm the cache
    times = []
    for _ in range(n):
        started = time.perf_counter()
        route = await router.route(ALICE, None)
        times.append(time.perf_counter() - started)
        route.release()
    return times


def p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * q))] * 1000


async def main() -> None:
    servers = [await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0) for _ in range(2)]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    with FakeResourceManager.capacity() as rm, FakeKubeApi() as kube, tempfile.TemporaryDirectory() as tmp:
        kubeconfig = kube.write_kubeconfig(Path(tmp) / "kubeconfig")

        # 1. Decisions with a warm cache: the preferred engine, and the fallback past a saturated one.
        rm.set_queue("root.adhoc", used=40.0)
        router = router_for(config(rm, kubeconfig, ports, ttl=3600, share=0.0))
        preferred = await decisions(router, 20000)
        await router.close()
        rm.set_queue("root.adhoc", used=95.0)
        router = router_for(config(rm, kubeconfig, ports, ttl=3600))
        fallback = await decisions(router, 20000)
        await router.close()
        for name, times in (("preferred (yarn)", preferred), ("fallback (yarn full -> k8s)", fallback)):
            print(f"decision, warm cache, {name:<28} p50 {p(times, 0.5):.3f} ms  p99 {p(times, 0.99):.3f} ms  "
                  f"(target p99 <= 1 ms: {p(times, 0.99) / 1.0:.2f}x of budget)")  # fmt: skip

        # 2. Bursts of 200 concurrent opens: one RM call per TTL.
        rm.set_queue("root.adhoc", used=10.0)
        clock = FakeClock()
        router = router_for(config(rm, kubeconfig, ports, ttl=5), clock)
        before = rm.calls(PATH)
        for _burst in range(3):
            routes = await asyncio.gather(*(router.route(ALICE, None) for _ in range(200)))
            for r in routes:
                r.release()
            await clock.advance(5)
        calls = rm.calls(PATH) - before
        await router.close()
        print(f"3 bursts of 200 concurrent opens, one TTL apart: {calls} RM calls (target 3: {calls / 3:.2f}x)")

        # 3. A hanging RM: the first open pays the probe timeout once, the rest nothing.
        rm.hang()
        router = router_for(config(rm, kubeconfig, ports, ttl=30, timeout=1.0))
        started = time.perf_counter()
        first = await router.route(ALICE, None)
        first_s = time.perf_counter() - started
        rest = []
        for _ in range(199):
            started = time.perf_counter()
            await router.route(ALICE, None)
            rest.append(time.perf_counter() - started)
        burst_started = time.perf_counter()
        await asyncio.gather(*(router.route(ALICE, None) for _ in range(200)))
        burst_s = time.perf_counter() - burst_started
        await router.close()
        rm.resume()
        print(f"hanging RM (probe_timeout_s = 1): first open {first_s * 1000:.0f} ms -> {first.engine.name} "
              f"(target <= 1000 ms: {first_s:.2f}x); next 199 max {max(rest) * 1000:.3f} ms, "
              f"median {statistics.median(rest) * 1000:.3f} ms; a further burst of 200 took "
              f"{burst_s * 1000:.1f} ms in all")  # fmt: skip
    for s in servers:
        s.close()


if __name__ == "__main__":
    asyncio.run(main())
