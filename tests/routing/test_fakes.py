"""The loopback fakes answer like the real services, as their real clients see them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

from tests.fakes.k8s_api import FakeKubeApi, resource_quota
from tests.fakes.yarn_rm import FakeResourceManager


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[tuple[FakeKubeApi, k8s.CoreV1Api]]:
    with FakeKubeApi() as api:
        configuration = k8s.Configuration()
        k8s_config.load_kube_config(
            str(api.write_kubeconfig(tmp_path / "kubeconfig")), client_configuration=configuration
        )
        configuration.retries = 0  # urllib3 would retry a refused connect three times
        api_client = k8s.ApiClient(configuration)
        yield api, k8s.CoreV1Api(api_client)
        api_client.close()


def test_resource_quota_list_and_get_through_the_real_client(kube: tuple[FakeKubeApi, k8s.CoreV1Api]) -> None:
    api, core = kube
    api.put(
        "resourcequotas",
        "spark",
        resource_quota(
            "compute", hard={"requests.cpu": "10", "requests.memory": "64Gi"}, used={"requests.cpu": "2500m"}
        ),
    )
    quotas = core.list_namespaced_resource_quota("spark")
    assert [q.metadata.name for q in quotas.items] == ["compute"]
    assert quotas.metadata.resource_version == api.resource_version
    quota = core.read_namespaced_resource_quota("compute", "spark")
    assert quota.status.hard == {"requests.cpu": "10", "requests.memory": "64Gi"}
    assert quota.status.used == {"requests.cpu": "2500m", "requests.memory": "0"}
    assert core.list_namespaced_resource_quota("other").items == []


def test_errors_are_status_objects(kube: tuple[FakeKubeApi, k8s.CoreV1Api]) -> None:
    api, core = kube
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_resource_quota("nope", "spark")
    assert missing.value.status == 404
    body = json.loads(missing.value.body)
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "NotFound", 404)
    api.forbidden_namespaces.add("spark")
    with pytest.raises(ApiException) as denied:
        core.list_namespaced_resource_quota("spark")
    assert denied.value.status == 403 and json.loads(denied.value.body)["reason"] == "Forbidden"
    api.fail(410)
    with pytest.raises(ApiException) as gone:
        core.list_namespaced_resource_quota("x")
    assert json.loads(gone.value.body)["reason"] == "Gone"


def test_refused_and_hanging(kube: tuple[FakeKubeApi, k8s.CoreV1Api]) -> None:
    api, core = kube
    api.refuse()
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        core.list_namespaced_resource_quota("spark", _request_timeout=(1, 1))
    api.resume()
    assert core.list_namespaced_resource_quota("spark", _request_timeout=(1, 1)).items == []
    api.hang()
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.MaxRetryError) as hung:
        core.list_namespaced_resource_quota("spark", _request_timeout=(1, 0.3))
    assert isinstance(hung.value.reason, urllib3.exceptions.ReadTimeoutError)
    assert time.monotonic() - started < 2
    api.resume()


def test_capacity_scheduler_json() -> None:
    with FakeResourceManager.capacity() as rm:
        rm.set_queue("root.bi.adhoc", used=45.0, max=50.0, pending=3)
        body = requests.get(rm.url + "/ws/v1/cluster/scheduler", timeout=2).json()
    info = body["scheduler"]["schedulerInfo"]
    assert info["type"] == "capacityScheduler" and info["queueName"] == "root"
    bi = next(q for q in info["queues"]["queue"] if q["queueName"] == "bi")
    adhoc = bi["queues"]["queue"][0]
    assert adhoc["queueName"] == "adhoc" and adhoc["queuePath"] == "root.bi.adhoc"
    assert adhoc["type"] == "capacitySchedulerLeafQueueInfo"
    assert (adhoc["absoluteUsedCapacity"], adhoc["absoluteMaxCapacity"], adhoc["numPendingApplications"]) == (45, 50, 3)


def test_fair_scheduler_json() -> None:
    with FakeResourceManager.fair() as rm:
        rm.set_queue("root.adhoc", used_memory_mb=900, max_memory_mb=1000, used_vcores=1, max_vcores=10, pending=2)
        info = requests.get(rm.url + "/ws/v1/cluster/scheduler", timeout=2).json()["scheduler"]["schedulerInfo"]
    assert info["type"] == "fairScheduler"
    leaf = next(q for q in info["rootQueue"]["childQueues"]["queue"] if q["queueName"] == "root.adhoc")
    assert leaf["usedResources"] == {"memory": 900, "vCores": 1}
    assert leaf["maxResources"] == {"memory": 1000, "vCores": 10}
    assert leaf["numPendingApps"] == 2 and leaf["type"] == "fairSchedulerLeafQueueInfo"


def test_standby_redirects_to_the_active_rm() -> None:
    with FakeResourceManager.capacity() as active, FakeResourceManager.capacity() as standby:
        standby.standby(active.url)
        reply = requests.get(standby.url + "/ws/v1/cluster/scheduler", timeout=2, allow_redirects=False)
        assert reply.status_code == 307
        assert reply.headers["Location"] == active.url + "/ws/v1/cluster/scheduler"
        assert requests.get(standby.url + "/ws/v1/cluster/scheduler", timeout=2).json()["scheduler"]
        assert active.calls("/ws/v1/cluster/scheduler") == 1
