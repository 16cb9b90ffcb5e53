"""The collector against an in-memory pod source and real stores (a directory, moto's S3 API)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from adhoc.logs.collector import Collector, container_header
from adhoc.logs.cost import Pricing
from adhoc.logs.store import LogStore
from adhoc.logs.watching import Backoff
from tests.logs.fake_pods import FakePodSource, pod_json
from tests.logs.s3 import S3Server

FAST = Backoff(first_s=0.05, cap_s=0.2)
KEY = "2026/12/03/s1/{}.log"


def collector(source: FakePodSource, store: LogStore, spool: Path, **kw: object) -> Collector:
    kw.setdefault("backoff", FAST)
    return Collector("k8s", source, store, str(spool), watch_timeout_s=5, **kw)  # type: ignore[arg-type]


async def wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_an_ended_pod_is_stored_byte_exact_then_deleted_and_running_ones_are_left(tmp_path: Path) -> None:
    source = FakePodSource()
    text = b"line one\r\n\xff\xfe not utf-8 \x00\nno newline at the end"
    source.put(pod_json("driver", phase="Succeeded"), {"spark-kubernetes-driver": text})
    source.put(pod_json("exec-1", phase="Running"), {"spark-kubernetes-driver": b"busy\n"})
    source.put(pod_json("other", session=None, phase="Succeeded"), {"spark-kubernetes-driver": b"x"})
    source.put(pod_json("lookalike", session=None, phase="Failed", labels={"adhoc.io/session-x": "s1"}))
    store = LogStore(f"file://{tmp_path}/store")
    c = collector(source, store, tmp_path / "spool")
    await c.start()
    try:
        await wait_for(lambda: source.deleted == ["driver"])
        assert (tmp_path / "store" / KEY.format("driver")).read_bytes() == text
        await asyncio.sleep(0.2)
        assert sorted(source.pods) == ["exec-1", "lookalike", "other"]
        assert {name for name, _ in source.log_reads} == {"driver"}
        # the executor ends later: it is stored then, through the watch
        source.put(pod_json("exec-1", phase="Failed"))
        await wait_for(lambda: "exec-1" in source.deleted)
        assert (tmp_path / "store" / KEY.format("exec-1")).read_bytes() == b"busy\n"
        assert not [p for p in (tmp_path / "store").rglob("*") if p.name.startswith(".")], "no temporary left"
    finally:
        await c.stop()


async def test_containers_in_spec_order_init_first_with_one_line_between(tmp_path: Path) -> None:
    source = FakePodSource()
    obj = pod_json("driver", phase="Failed", init=("setup",), containers=("main", "sidecar", "never-ran"))
    source.put(obj, {"setup": b"init done", "main": b"main 1\nmain 2\n", "sidecar": b"side\n"})
    c = collector(source, LogStore(f"file://{tmp_path}/store"), tmp_path / "spool")
    await c.start()
    try:
        await wait_for(lambda: source.deleted == ["driver"])
    finally:
        await c.stop()
    stored = (tmp_path / "store" / KEY.format("driver")).read_bytes()
    assert stored == (
        b"init done\n" + container_header("main") + b"main 1\nmain 2\n"
        + container_header("sidecar") + b"side\n" + container_header("never-ran")
    )  # fmt: skip


async def test_s3_outage_keeps_the_pod_until_the_store_is_back(tmp_path: Path, s3: S3Server) -> None:
    bucket = s3.bucket  # type: ignore[attr-defined]
    source = FakePodSource()
    store = LogStore(f"s3://{bucket}/adhoc", s3.options())
    c = collector(source, store, tmp_path / "spool")
    await c.start()
    try:
        await c.ready.wait()
        s3.stop()
        logs = {f"exec-{i}": os.urandom(3000) + b"\n" for i in range(5)}
        for name, text in logs.items():
            source.put(pod_json(name, phase="Succeeded"), {"spark-kubernetes-driver": text})
        await asyncio.sleep(1.5)
        assert source.deleted == [], "no pod may go while its log is not stored"
        s3.start()
        await wait_for(lambda: len(source.deleted) == 5, timeout=30)
    finally:
        await c.stop()
    objects = s3.objects(bucket)
    assert objects == {f"adhoc/{KEY.format(name)}": text for name, text in logs.items()}
    assert sorted(source.deleted) == sorted(logs)


async def test_a_restart_after_storing_only_deletes_and_never_stores_twice(tmp_path: Path, s3: S3Server) -> None:
    bucket = s3.bucket  # type: ignore[attr-defined]
    source = FakePodSource()
    source.put(pod_json("driver", phase="Succeeded"), {"spark-kubernetes-driver": b"x" * 10_000_000})
    store = LogStore(f"s3://{bucket}/p", s3.options())
    # The first run stores the object, then dies where the delete would have happened.
    from adhoc.errors import PodApiError

    source.fail_next["delete_pod"] = PodApiError("connection reset", 0)
    first = collector(source, store, tmp_path / "spool", backoff=Backoff(30, 30))
    await first.start()
    await wait_for(lambda: f"p/{KEY.format('driver')}" in s3.objects(bucket), timeout=30)
    await asyncio.sleep(0.2)
    await first.stop()
    assert "driver" in source.pods
    source.logs.clear()  # a second read of the log would now fail: the restart must not need it
    second = collector(source, LogStore(f"s3://{bucket}/p", s3.options()), tmp_path / "spool")
    await second.start()
    try:
        await wait_for(lambda: source.deleted == ["driver"])
    finally:
        await second.stop()
    assert list(s3.objects(bucket)) == [f"p/{KEY.format('driver')}"]
    assert len(s3.objects(bucket)[f"p/{KEY.format('driver')}"]) == 10_000_000


async def test_a_pod_expired_watch_and_a_failed_list_are_survived(tmp_path: Path) -> None:
    from adhoc.errors import PodApiError

    source = FakePodSource()
    source.fail_next["list_pods"] = PodApiError("connection refused")
    c = collector(source, LogStore(f"file://{tmp_path}/store"), tmp_path / "spool")
    await c.start()
    try:
        await c.ready.wait()
        source.expire_watches()
        await asyncio.sleep(0.1)
        source.put(pod_json("driver", phase="Succeeded"), {"spark-kubernetes-driver": b"ok\n"})
        await wait_for(lambda: source.deleted == ["driver"])
    finally:
        await c.stop()


async def test_cost_from_requests_and_lifetime(tmp_path: Path) -> None:
    source = FakePodSource()
    # 09:00 → 10:00 (an hour), 2 cores and 4 GiB requested
    source.put(pod_json("driver", phase="Succeeded", cpu="2000m", memory="4Gi"), {"spark-kubernetes-driver": b""})
    c = collector(source, LogStore(f"file://{tmp_path}/store"), tmp_path / "spool",
                  pricing=Pricing(cpu_core_hour=0.05, memory_gib_hour=0.01))  # fmt: skip
    await c.start()
    try:
        await wait_for(lambda: source.deleted == ["driver"])
        assert c.session_cost("s1") == pytest.approx(2 * 0.05 + 4 * 0.01)
        assert c.session_cost("unknown") is None
    finally:
        await c.stop()
    # the pod is gone, yet the cost survives a restart
    again = collector(source, LogStore(f"file://{tmp_path}/store"), tmp_path / "spool",
                      pricing=Pricing(cpu_core_hour=0.05, memory_gib_hour=0.01))  # fmt: skip
    assert again.session_cost("s1") == pytest.approx(0.14)
