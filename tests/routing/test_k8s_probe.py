"""The K8s quota probe through the real `kubernetes` client against a loopback API server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adhoc.engines import Engine, K8sQuota
from adhoc.routing.figures import QuotaHeadroom, Unreachable
from adhoc.routing.k8s import ResourceQuotaProbe
from tests.fakes.k8s_api import FakeKubeApi, resource_quota

GI = 1024**3
ENGINE = Engine("k8s-a", "k8s", "kyuubi", "127.0.0.1", 1)


@pytest.fixture
def api() -> Iterator[FakeKubeApi]:
    with FakeKubeApi() as server:
        yield server


def probe(api: FakeKubeApi, tmp_path: Path, quota: str = "", **kw: float) -> ResourceQuotaProbe:
    kubeconfig = str(api.write_kubeconfig(tmp_path / "kubeconfig"))
    settings = K8sQuota(
        "spark", kubeconfig, quota, min_free_cpu=kw.get("cpu", 4), min_free_memory=int(kw.get("mem", 16 * GI))
    )
    return ResourceQuotaProbe(settings, timeout_s=kw.get("timeout", 2))


async def test_named_quota_headroom_with_real_quantities(api: FakeKubeApi, tmp_path: Path) -> None:
    api.put("resourcequotas", "spark", resource_quota(
        "compute",
        hard={"requests.cpu": "20", "requests.memory": "128Gi", "limits.memory": "256Gi", "pods": "50"},
        used={"requests.cpu": "12500m", "requests.memory": "131072Mi", "limits.memory": "100Gi", "pods": "7"},
    ))  # fmt: skip
    figures = await probe(api, tmp_path, "compute").check(ENGINE)
    assert isinstance(figures, QuotaHeadroom)
    assert figures.free_cpu == pytest.approx(7.5)
    assert figures.free_memory == 0  # 128Gi - 131072Mi: requests.memory is the tighter memory figure
    assert figures.free_pods == 43
    assessment = figures.assess(0)
    assert not assessment.available
    assert "namespace spark quota compute: 7.5 CPU and 0Mi free" in assessment.reason


async def test_without_a_name_the_tightest_quota_wins(api: FakeKubeApi, tmp_path: Path) -> None:
    api.put("resourcequotas", "spark", resource_quota("roomy", hard={"requests.cpu": "100", "requests.memory": "1Ti"}))
    api.put("resourcequotas", "spark", resource_quota("tight", hard={"cpu": "10", "memory": "64Gi"},
                                                      used={"cpu": "1500m", "memory": "8Gi"}))  # fmt: skip
    figures = await probe(api, tmp_path).check(ENGINE)
    assert isinstance(figures, QuotaHeadroom)
    assert (figures.quota, figures.free_cpu, figures.free_memory) == ("tight", 8.5, 56 * GI)
    assert figures.assess(0).available
    # Sessions placed since the probe count: each takes min_free_cpu / min_free_memory of the room.
    assert figures.assess(1).available
    placed = figures.assess(2)
    assert not placed.available and "after 2 placed since the probe" in placed.reason


async def test_a_namespace_without_quota_has_no_limit(api: FakeKubeApi, tmp_path: Path) -> None:
    figures = await probe(api, tmp_path).check(ENGINE)
    assert isinstance(figures, QuotaHeadroom) and figures.free_cpu is None and figures.assess(100).available
    assert "(no ResourceQuota)" in figures.assess(0).reason


async def test_missing_quota_forbidden_and_api_errors(api: FakeKubeApi, tmp_path: Path) -> None:
    missing = await probe(api, tmp_path, "compute").check(ENGINE)
    assert isinstance(missing, Unreachable) and missing.reason == "ResourceQuota compute not found in namespace spark"
    api.forbidden_namespaces.add("spark")
    forbidden = await probe(api, tmp_path).check(ENGINE)
    assert isinstance(forbidden, Unreachable) and "403 Forbidden" in forbidden.reason
    api.fail(500)
    broken = await probe(api, tmp_path).check(ENGINE)
    assert isinstance(broken, Unreachable) and "answered 500" in broken.reason


async def test_refused_and_hanging_api_cost_one_short_timeout(api: FakeKubeApi, tmp_path: Path) -> None:
    quota_probe = probe(api, tmp_path, timeout=0.5)
    api.refuse()
    refused = await quota_probe.check(ENGINE)
    assert isinstance(refused, Unreachable) and "could not be reached (connection refused)" in refused.reason
    api.resume()
    api.hang()
    started = time.monotonic()
    hung = await quota_probe.check(ENGINE)
    assert time.monotonic() - started < 1.5
    assert isinstance(hung, Unreachable) and "timed out" in hung.reason
    api.resume()
    await quota_probe.close()


async def test_a_bad_kubeconfig_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    settings = K8sQuota("spark", str(tmp_path / "missing-kubeconfig"))
    figures = await ResourceQuotaProbe(settings, timeout_s=0.5).check(ENGINE)
    assert isinstance(figures, Unreachable) and "could not be set up" in figures.reason
