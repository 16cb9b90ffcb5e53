"""Two `adhoc serve` replicas on one ZooKeeper watching one K8s namespace: each pod's log is read,
stored and its pod deleted once; when the replica doing the work is killed, the other finishes."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.k8s_api import FakeKubeApi, pod_object
from tests.ha.zookeeper import ZooKeeperServer
from tests.logs.s3 import S3Server
from tests.logs.served import ServedGateway, write_config

NS = "spark"
DRIVER = "spark-kubernetes-driver"
CREATED = "2026-12-03T08:00:00Z"


@pytest.fixture
def zookeeper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZooKeeperServer]:
    server = ZooKeeperServer(tmp_path_factory.mktemp("zk")).start()
    yield server
    server.stop()


def until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def replica(tmp: Path, kubeconfig: str, s3: S3Server, zk: ZooKeeperServer, endpoint: str = "") -> ServedGateway:
    tmp.mkdir()
    ha = f'[ha]\nzookeeper = "{zk.hosts}"\nsession_timeout_s = 2.0\n'
    return ServedGateway(write_config(tmp, kubeconfig, s3, s3.bucket, auth=ha, endpoint=endpoint))  # type: ignore[attr-defined]


def end_pods(api: FakeKubeApi, names: list[str]) -> None:
    for name in names:
        obj = api.get("pods", NS, name)
        assert obj is not None
        obj["status"] = pod_object(name, phase="Succeeded", created=CREATED)["status"]
        api.put("pods", NS, obj)


def add_pods(api: FakeKubeApi, count: int, size: int = 2000) -> list[str]:
    names = [f"pod-{i:03d}" for i in range(count)]
    for name in names:
        labels = {"adhoc.io/session": f"sess-{name[-1]}", "adhoc.io/user": "alice", "spark-role": "executor"}
        api.put("pods", NS, pod_object(name, labels=labels, created=CREATED))
        api.watches.append_log(NS, name, DRIVER, name.encode() * (size // len(name)) + b"\n")
    return names


def test_two_replicas_store_each_pod_once(
    kube: tuple[FakeKubeApi, str], s3: S3Server, zookeeper: ZooKeeperServer, tmp_path: Path
) -> None:
    api, kubeconfig = kube
    names = add_pods(api, 20)
    replicas = [replica(tmp_path / f"r{i}", kubeconfig, s3, zookeeper).start() for i in range(2)]
    try:
        time.sleep(1.0)  # both have listed the pods
        end_pods(api, names)
        until(lambda: len(api.watches.deletions) >= 20, 60, "20 pods stored and deleted")
        time.sleep(1.0)
    finally:
        for r in replicas:
            r.stop()
    assert sorted(d[1] for d in api.watches.deletions) == names  # each deleted once
    reads = collections.Counter(read[1] for read in api.watches.log_reads)
    assert reads == {name: 1 for name in names}, "a log was read (and stored) by both replicas"
    assert len(s3.objects(s3.bucket)) == 20  # type: ignore[attr-defined]


def test_when_the_working_replica_dies_the_other_finishes(
    kube: tuple[FakeKubeApi, str], s3: S3Server, zookeeper: ZooKeeperServer, tmp_path: Path
) -> None:
    from tests.logs.s3 import ThrottledProxy

    api, kubeconfig = kube
    names = add_pods(api, 6, size=1_500_000)
    slow = ThrottledProxy(s3.port, bytes_per_s=500_000)  # the first replica's uploads crawl
    first = replica(tmp_path / "r0", kubeconfig, s3, zookeeper, endpoint=slow.endpoint).start()
    end_pods(api, names)
    until(lambda: len(api.watches.log_reads) >= 1, 20, "the first replica to start on the pods")
    second = replica(tmp_path / "r1", kubeconfig, s3, zookeeper).start()
    try:
        time.sleep(1.0)
        assert len(api.watches.deletions) < 6, "the first replica finished before it could be killed"
        first.kill()  # mid-upload: its claims go when its ZooKeeper session expires (2 s)
        started = time.monotonic()
        until(lambda: len(api.watches.deletions) >= 6, 30, "the second replica to finish within 30 s")
        print(f"taken over and finished in {time.monotonic() - started:.1f} s")
    finally:
        first.kill()
        second.stop()
    assert sorted(d[1] for d in api.watches.deletions) == names
    objects = s3.objects(s3.bucket)  # type: ignore[attr-defined]
    assert len(objects) == 6 and all(len(v) > 1_000_000 for v in objects.values())
