"""The collector through the real `kubernetes` client against the loopback fake K8s API."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adhoc.errors import PodApiError, WatchExpired
from adhoc.logs.collector import Collector
from adhoc.logs.source import KubePodSource
from adhoc.logs.store import LogStore
from adhoc.logs.watching import Backoff
from tests.fakes.k8s_api import FakeKubeApi, pod_object
from tests.logs.test_collector import wait_for

NS = "spark"
DRIVER = "spark-kubernetes-driver"


@pytest.fixture
def bookmark_interval_s() -> float:
    return 0.2


def ours(session: str = "s1", **labels: str) -> dict[str, str]:
    return {"adhoc.io/session": session, "adhoc.io/user": "alice", **labels}


async def test_list_watch_bookmarks_410_and_dropped_streams(kube: tuple[FakeKubeApi, str]) -> None:
    api, kubeconfig = kube
    api.put("pods", NS, pod_object("driver", labels=ours()))
    api.put("pods", NS, pod_object("plain", labels={"app": "x"}))
    source = KubePodSource.from_kubeconfig(kubeconfig, NS)
    try:
        listed = await source.list_pods()
        assert [p.name for p in listed.pods] == ["driver"]
        seen: list[str] = []

        async def watch() -> None:
            async for event in source.watch(listed.resource_version, timeout_s=30):
                seen.append(f"{event.type}:{event.pod.name if event.pod else ''}")

        task = asyncio.create_task(watch())
        api.put("pods", NS, pod_object("exec-1", labels=ours()))
        api.put("pods", NS, pod_object("plain-2", labels={"adhoc.io/session-x": "s1"}))
        api.put("pods", NS, pod_object("driver", labels=ours(), phase="Succeeded"))
        await wait_for(lambda: "BOOKMARK:" in seen and len(seen) >= 3)
        assert [s for s in seen if s != "BOOKMARK:"][:2] == ["ADDED:exec-1", "MODIFIED:driver"]
        api.watches.drop_watches()
        with pytest.raises(PodApiError):
            await task
        api.watches.compact()
        with pytest.raises(WatchExpired):
            async for _ in source.watch(listed.resource_version, timeout_s=5):
                pass
    finally:
        await source.close()


async def test_a_followed_log_delivers_appended_text(kube: tuple[FakeKubeApi, str]) -> None:
    api, kubeconfig = kube
    api.put("pods", NS, pod_object("driver", labels=ours()))
    api.watches.append_log(NS, "driver", DRIVER, b"first\n")
    source = KubePodSource.from_kubeconfig(kubeconfig, NS)
    got = bytearray()

    async def follow() -> None:
        async for chunk in source.read_log("driver", DRIVER, follow=True):
            got.extend(chunk)

    task = asyncio.create_task(follow())
    try:
        await wait_for(lambda: bytes(got) == b"first\n")
        api.watches.append_log(NS, "driver", DRIVER, b"second\n")
        await wait_for(lambda: bytes(got) == b"first\nsecond\n", timeout=5)
        api.put("pods", NS, pod_object("driver", labels=ours(), phase="Succeeded"))
        await asyncio.wait_for(task, 5)  # the stream ends with the pod
    finally:
        task.cancel()
        await source.close()


async def test_collector_stores_ended_labelled_pods_and_touches_nothing_else(
    kube: tuple[FakeKubeApi, str], tmp_path: Path
) -> None:
    api, kubeconfig = kube
    put = api.put
    for name, labels, phase in [
        ("done-driver", ours(), "Succeeded"),
        ("running-exec", ours(), "Running"),
        ("unlabelled", {"app": "spark"}, "Succeeded"),
        ("lookalike", {"adhoc.io/session-id": "s1", "xadhoc.io/session": "s1"}, "Failed"),
    ]:
        put("pods", NS, pod_object(name, labels=labels, phase=phase, created="2026-12-03T23:59:59Z"))
        api.watches.append_log(NS, name, DRIVER, f"log of {name}\n".encode())
    collector = Collector(
        "k8s", KubePodSource.from_kubeconfig(kubeconfig, NS), LogStore(f"file://{tmp_path}/store"),
        str(tmp_path / "spool"), backoff=Backoff(0.05, 0.2), watch_timeout_s=5,
    )  # fmt: skip
    await collector.start()
    try:
        await wait_for(lambda: [d[1] for d in api.watches.deletions] == ["done-driver"])
        # a 410 and a dropped stream on the way do not lose the executor ending later
        api.watches.compact(expire_open=True)
        await asyncio.sleep(0.3)
        api.watches.compact(expire_open=False)
        api.watches.drop_watches()
        put("pods", NS, pod_object("running-exec", labels=ours(), phase="Failed", created="2026-12-03T23:59:59Z"))
        await wait_for(lambda: len(api.watches.deletions) == 2, timeout=15)
        await asyncio.sleep(0.5)
    finally:
        await collector.stop()
    stored = tmp_path / "store" / "2026" / "12" / "03" / "s1"
    assert {p.name: p.read_bytes() for p in stored.iterdir()} == {
        "done-driver.log": b"log of done-driver\n",
        "running-exec.log": b"log of running-exec\n",
    }
    assert sorted(d[1] for d in api.watches.deletions) == ["done-driver", "running-exec"]
    assert {read[1] for read in api.watches.log_reads} == {"done-driver", "running-exec"}
    assert api.get("pods", NS, "unlabelled") and api.get("pods", NS, "lookalike")
