"""The YARN probe against a loopback ResourceManager serving both schedulers' real JSON."""

from __future__ import annotations

import time

import pytest

from adhoc.engines import Engine, YarnQueue
from adhoc.routing.figures import QueueLoad, Unreachable
from adhoc.routing.yarn import ResourceManagerProbe
from tests.fakes.yarn_rm import FakeResourceManager
from tests.sts import free_port

ENGINE = Engine("yarn-main", "yarn", "kyuubi", "127.0.0.1", 1)


def settings(*urls: str, queue: str = "root.adhoc", **kw: float) -> YarnQueue:
    return YarnQueue(tuple(urls), queue, **kw)  # type: ignore[arg-type]


async def check(probe: ResourceManagerProbe) -> QueueLoad | Unreachable:
    try:
        figures = await probe.check(ENGINE)
    finally:
        await probe.close()
    assert isinstance(figures, QueueLoad | Unreachable)
    return figures


@pytest.mark.parametrize("hadoop3", [True, False])
async def test_capacity_full_path_picks_that_queue_not_a_namesake(hadoop3: bool) -> None:
    with FakeResourceManager.capacity(queue_path_field=hadoop3) as rm:
        rm.set_queue("root.bi.adhoc", used=45.0, max=50.0, pending=3)
        rm.set_queue("root.eng.adhoc", used=1.0, max=50.0)
        load = await check(ResourceManagerProbe(settings(rm.url, queue="root.bi.adhoc")))
        assert isinstance(load, QueueLoad)
        assert (load.queue, load.scheduler, load.pending_apps) == ("root.bi.adhoc", "capacity", 3)
        assert load.used_pct_of_max == pytest.approx(90.0)
        assessment = load.assess(0)
        assert not assessment.available
        assert "queue root.bi.adhoc at 90% of max (saturation 90%), 3 pending" in assessment.reason
        other = await check(ResourceManagerProbe(settings(rm.url, queue="eng.adhoc")))
        assert isinstance(other, QueueLoad) and other.queue == "root.eng.adhoc" and other.assess(0).available
        ambiguous = await check(ResourceManagerProbe(settings(rm.url, queue="adhoc")))
        assert isinstance(ambiguous, Unreachable) and "ambiguous" in ambiguous.reason
        assert "root.bi.adhoc" in ambiguous.reason


async def test_capacity_leaf_name_and_pending_limit() -> None:
    with FakeResourceManager.capacity() as rm:
        rm.set_queue("root.adhoc", used=10.0, max=100.0, pending=2)
        load = await check(ResourceManagerProbe(settings(rm.url, queue="adhoc", max_pending_apps=1)))
        assert isinstance(load, QueueLoad)
        assessment = load.assess(0)
        assert not assessment.available and "max_pending_apps 1" in assessment.reason
        assert load.assess(0).figures["pending_apps"] == 2
        missing = await check(ResourceManagerProbe(settings(rm.url, queue="root.nope")))
        assert isinstance(missing, Unreachable) and "queue root.nope not found" in missing.reason


async def test_fair_scheduler_memory_or_vcores_against_max() -> None:
    with FakeResourceManager.fair() as rm:
        rm.set_queue("root.adhoc", used_memory_mb=100, max_memory_mb=1000, used_vcores=19, max_vcores=20)
        rm.set_queue("root.etl", used_memory_mb=10, max_memory_mb=1000)
        load = await check(ResourceManagerProbe(settings(rm.url, queue="adhoc")))
        assert isinstance(load, QueueLoad) and load.scheduler == "fair" and load.queue == "root.adhoc"
        assert load.used_pct_of_max == pytest.approx(95.0)  # vCores are the tighter resource
        assert not load.assess(0).available
        etl = await check(ResourceManagerProbe(settings(rm.url, queue="root.etl")))
        assert isinstance(etl, QueueLoad) and etl.assess(0).available


async def test_standby_307_is_followed_even_to_an_unlisted_rm() -> None:
    with FakeResourceManager.capacity() as active, FakeResourceManager.capacity() as standby:
        active.set_queue("root.adhoc", used=20.0, max=100.0)
        standby.standby(active.url)
        load = await check(ResourceManagerProbe(settings(standby.url)))
        assert isinstance(load, QueueLoad) and load.rm_url == active.url
        assert active.calls("/ws/v1/cluster/scheduler") == 1


async def test_refused_and_hanging_rms_are_skipped_within_their_timeouts() -> None:
    with FakeResourceManager.capacity() as hanging, FakeResourceManager.capacity() as good:
        hanging.hang()
        good.set_queue("root.adhoc", used=10.0)
        refused = f"http://127.0.0.1:{free_port()}"
        probe = ResourceManagerProbe(settings(refused, hanging.url, good.url), timeout_s=0.5)
        started = time.monotonic()
        load = await probe.check(ENGINE)
        assert isinstance(load, QueueLoad) and load.rm_url == good.url
        assert time.monotonic() - started < 2
        # The RM that answered is asked first next time: no timeouts paid again.
        started = time.monotonic()
        assert isinstance(await probe.check(ENGINE), QueueLoad)
        assert time.monotonic() - started < 0.4
        await probe.close()
        hanging.resume()


async def test_no_rm_answering_says_so() -> None:
    with FakeResourceManager.capacity() as hanging:
        hanging.hang()
        refused = f"http://127.0.0.1:{free_port()}"
        started = time.monotonic()
        figures = await check(ResourceManagerProbe(settings(refused, hanging.url), timeout_s=0.5))
        assert time.monotonic() - started < 2
        assert isinstance(figures, Unreachable)
        assert figures.reason.startswith("no ResourceManager could be reached")
        assert "connection failed" in figures.reason and "timed out" in figures.reason
        hanging.resume()
