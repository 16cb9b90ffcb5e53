"""`adhoc serve` as users run it (a subprocess), killed at the worst moments: every ended pod's log
ends up stored exactly once, and each pod is deleted once, only after its object is complete."""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable
from pathlib import Path

from tests.fakes.k8s_api import FakeKubeApi, pod_object
from tests.logs.s3 import S3Server, ThrottledProxy
from tests.logs.served import ServedGateway, write_config

NS = "spark"
DRIVER = "spark-kubernetes-driver"


def until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def labels(session: str) -> dict[str, str]:
    return {"adhoc.io/session": session, "adhoc.io/user": "alice", "spark-role": "executor"}


def key(session: str, pod: str) -> str:
    return f"adhoc/2026/12/03/{session}/{pod}.log"


def test_killed_mid_upload_and_mid_delete_each_pod_is_stored_once_and_deleted_once(
    kube: tuple[FakeKubeApi, str], s3: S3Server, tmp_path: Path
) -> None:
    api, kubeconfig = kube
    bucket = s3.bucket  # type: ignore[attr-defined]
    proxy = ThrottledProxy(s3.port, bytes_per_s=4_000_000)  # a 3 MB upload takes most of a second
    config = write_config(tmp_path, kubeconfig, s3, bucket, endpoint=proxy.endpoint)
    logs = {}
    for i in range(6):
        session, name = f"s{i % 2}", f"exec-{i}"
        logs[(session, name)] = os.urandom(1_500_000).hex().encode()[:3_000_000] + b"\n"
        api.put("pods", NS, pod_object(name, labels=labels(session), phase="Succeeded", created="2026-12-03T08:00:00Z"))
        api.watches.append_log(NS, name, DRIVER, logs[(session, name)])
    gateway = ServedGateway(config)
    try:
        # 1. killed while an upload streams to S3; what S3 shows meanwhile is only ever whole
        gateway.start()
        until(lambda: proxy.upstream_bytes > 1_000_000, 60, "an upload under way")
        for body in s3.objects(bucket).values():
            assert len(body) == 3_000_001, "a partial object is visible"
        gateway.kill()
        assert len(api.watches.deletions) < 6
        # 2. killed while a DELETE is held by the API server (which applies it after we are gone)
        api.watches.delete_delay_s = 1.0
        gateway.start()
        until(lambda: any(m == "DELETE" for m, _ in api.requests), 60, "a pod delete in flight")
        gateway.kill()
        # 3. a last run finishes the work
        api.watches.delete_delay_s = 0.0
        time.sleep(1.2)
        gateway.start()
        until(lambda: len({d[1] for d in api.watches.deletions}) == 6, 90, "all pods deleted")
        time.sleep(0.5)
    finally:
        gateway.stop()
        proxy.close()
    objects = s3.objects(bucket)
    assert objects == {key(session, name): text for (session, name), text in logs.items()}
    deleted = collections.Counter(d[1] for d in api.watches.deletions)
    assert deleted == {name: 1 for _, name in logs}
    assert not s3.client().list_objects_v2(Bucket=bucket, Prefix="adhoc/.").get("Contents")


def test_a_30_mb_log_keeps_the_gateway_under_200_mb(
    kube: tuple[FakeKubeApi, str], s3: S3Server, tmp_path: Path
) -> None:
    api, kubeconfig = kube
    bucket = s3.bucket  # type: ignore[attr-defined]
    line = b"26/12/03 09:00:00 INFO Executor: Finished task 0.0 in stage 1.0 (TID 1). 2000 bytes result sent\n"
    text = line * (30_000_000 // len(line) + 1)
    api.put("pods", NS, pod_object("driver", labels=labels("big"), phase="Failed", created="2026-12-03T08:00:00Z"))
    api.watches.append_log(NS, "driver", DRIVER, text)
    gateway = ServedGateway(write_config(tmp_path, kubeconfig, s3, bucket))
    try:
        gateway.start()
        until(lambda: api.watches.deletions, 120, "the pod stored and deleted")
        peak = gateway.peak_rss_mb()
    finally:
        gateway.stop()
    assert s3.objects(bucket) == {key("big", "driver"): text}
    assert peak < 200, f"the gateway peaked at {peak:.0f} MiB for a {len(text) / 1e6:.0f} MB log"


def test_200_pods_of_20_sessions_ending_together_and_nothing_else_touched(
    kube: tuple[FakeKubeApi, str], s3: S3Server, tmp_path: Path
) -> None:
    api, kubeconfig = kube
    bucket = s3.bucket  # type: ignore[attr-defined]
    created = "2026-12-03T08:00:00Z"
    ours = [(f"sess-{i % 20:02d}", f"pod-{i:03d}") for i in range(200)]
    for session, name in ours:
        api.put("pods", NS, pod_object(name, labels=labels(session), created=created))
        api.watches.append_log(NS, name, DRIVER, f"{name} of {session}\n".encode() * 200)
    strangers = {
        "unlabelled": {"app": "spark"},
        "lookalike-1": {"adhoc.io/session-id": "sess-00"},
        "lookalike-2": {"example.com/adhoc.io/session": "sess-00"},
        "lookalike-3": {"adhoc.io/Session": "sess-00"},
    }
    for name, their_labels in strangers.items():
        api.put("pods", NS, pod_object(name, labels=their_labels, phase="Succeeded", created=created))
        api.watches.append_log(NS, name, DRIVER, b"not ours\n")
    api.put("pods", NS, pod_object("still-running", labels=labels("sess-00"), created=created))
    gateway = ServedGateway(write_config(tmp_path, kubeconfig, s3, bucket))
    try:
        gateway.start()
        time.sleep(1.0)  # the collector has listed: everything runs
        assert api.watches.deletions == []
        started = time.monotonic()
        for _, name in ours:
            obj = api.get("pods", NS, name)
            assert obj is not None
            obj["status"] = pod_object(name, phase="Succeeded", created=created)["status"]
            api.put("pods", NS, obj)
        assert time.monotonic() - started < 1.0
        until(lambda: len(api.watches.deletions) >= 200, 60, "200 pods stored and deleted within 60 s")
        elapsed = time.monotonic() - started
        time.sleep(0.5)
    finally:
        gateway.stop()
    print(f"200 pods stored and deleted in {elapsed:.1f} s")
    objects = s3.objects(bucket)
    assert len(objects) == 200
    for session, name in ours:
        assert objects[key(session, name)] == f"{name} of {session}\n".encode() * 200
    assert sorted(d[1] for d in api.watches.deletions) == sorted(name for _, name in ours)
    for name in [*strangers, "still-running"]:
        assert api.get("pods", NS, name) is not None
    assert {read[1] for read in api.watches.log_reads} == {name for _, name in ours}
