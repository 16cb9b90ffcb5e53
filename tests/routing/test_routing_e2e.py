"""End to end: two real Spark Thrift Servers behind one gateway stand in for a YARN engine and a
K8s engine; a loopback ResourceManager and Kubernetes API say how full each is; real pyhive
clients see where their sessions land, and wait in the queue when nothing has room."""

from __future__ import annotations

import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from pyhive import hive
from TCLIService import ttypes

from adhoc.config import Config, EngineConfig, RoutingConfig, ServerConfig
from tests.fakes.k8s_api import FakeKubeApi, resource_quota
from tests.fakes.yarn_rm import FakeResourceManager
from tests.gateway_harness import GatewayThread
from tests.hs2_raw import RawClient, encode_call
from tests.sts import RunningSTS, start_sts

TTL = 0.4
DESC = ["session_id", "user", "route", "engine", "app_id", "spark_ui_url", "logs_url", "queued_ms", "cost"]


class Cluster:
    def __init__(self, gateway: GatewayThread, rm: FakeResourceManager, kube: FakeKubeApi) -> None:
        self.gateway, self.rm, self.kube = gateway, rm, kube

    def yarn_used(self, percent: float) -> None:
        self.rm.set_queue("root.adhoc", used=percent, max=100.0)

    def k8s_used_cpu(self, cpu: str) -> None:
        hard = {"requests.cpu": "10", "requests.memory": "64Gi"}
        self.kube.put("resourcequotas", "spark", resource_quota("compute", hard=hard, used={"requests.cpu": cpu}))

    def settle(self) -> None:
        time.sleep(TTL * 1.5)  # the figures the gateway holds go stale

    def connect(self, user: str) -> hive.Connection:
        return hive.connect(self.gateway.host, port=self.gateway.port, username=user)

    def engines(self) -> dict[str, Any]:
        body: dict[str, Any] = requests.get(self.gateway.http_url + "/api/v1/engines", timeout=10).json()
        return body

    def session(self, session_id: str, user: str) -> dict[str, Any]:
        url = f"{self.gateway.http_url}/api/v1/sessions/{session_id}"
        body: dict[str, Any] = requests.get(url, auth=(user, "x"), timeout=10).json()
        return body

    def metrics(self) -> str:
        return requests.get(self.gateway.http_url + "/metrics", timeout=10).text


def desc(conn: hive.Connection) -> dict[str, Any]:
    cur = conn.cursor()
    cur.execute("ADHOC DESC SESSION")
    return dict(zip(DESC, cur.fetchone(), strict=True))


def eventually(check: Callable[[], bool], within_s: float = 20) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def second_sts() -> Iterator[RunningSTS]:
    server = start_sts(extra_args=("--conf", "spark.app.name=adhoc-k8s-stand-in"))  # always a new one
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(sts: RunningSTS, second_sts: RunningSTS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    with FakeResourceManager.capacity() as rm, FakeKubeApi() as kube:
        kube.write_kubeconfig(kubeconfig)
        config = Config(
            server=ServerConfig(host="127.0.0.1", thrift_port=0, http_port=0, drain_timeout_s=2.0),
            routing=RoutingConfig(probe_ttl_s=TTL, queue_timeout_s=60, probe_timeout_s=1),
            engines=(
                EngineConfig(name="yarn-e", kind="yarn", protocol="sts", address=sts.address,
                             rm_urls=(rm.url,), queue="root.adhoc", saturation=0.9),
                EngineConfig(name="k8s-e", kind="k8s", protocol="sts", address=second_sts.address,
                             kubeconfig=str(kubeconfig), namespace="spark", quota="compute",
                             min_free_cpu=1, min_free_memory="1Gi"),
            ),
        )  # fmt: skip
        gateway = GatewayThread(config)
        c = Cluster(gateway, rm, kube)
        c.yarn_used(10)
        c.k8s_used_cpu("0")
        yield c
        gateway.stop()


def test_saturated_yarn_sends_new_sessions_to_k8s_and_back(cluster: Cluster) -> None:
    cluster.yarn_used(10)
    cluster.k8s_used_cpu("0")
    cluster.settle()
    with cluster.connect("alice") as conn:
        row = desc(conn)
        assert (row["route"], row["engine"], row["queued_ms"]) == ("yarn", "yarn-e", 0)

    cluster.yarn_used(95)
    cluster.settle()
    table = f"e2e_routed_{uuid.uuid4().hex[:8]}"
    with cluster.connect("alice") as conn:
        row = desc(conn)
        assert (row["route"], row["engine"]) == ("k8s", "k8s-e")
        reason = cluster.session(row["session_id"], "alice")["route_reason"]
        assert reason.startswith("routed to k8s-e: yarn-e saturated: queue root.adhoc at 95% of max (saturation 90%)")
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {table} (id INT) USING parquet")
        cur.execute(f"SHOW TABLES LIKE '{table}'")
        assert len(cur.fetchall()) == 1

    cluster.yarn_used(20)
    cluster.settle()
    with cluster.connect("alice") as conn:
        row = desc(conn)
        assert (row["route"], row["engine"]) == ("yarn", "yarn-e")
        cur = conn.cursor()
        cur.execute(f"SHOW TABLES LIKE '{table}'")
        assert cur.fetchall() == []  # the table lives on the other engine only
    views = {e["name"]: e for e in cluster.engines()["engines"]}
    assert views["yarn-e"]["available"] and views["yarn-e"]["used_pct_of_max"] == 20
    assert views["k8s-e"]["free_cpu"] == 10
    metrics = cluster.metrics()
    assert 'adhoc_routed_sessions_total{engine="k8s-e",reason="fallback"}' in metrics
    assert 'adhoc_routed_sessions_total{engine="yarn-e",reason="preferred"}' in metrics
    assert 'adhoc_engine_available{engine="yarn-e",kind="yarn"} 1.0' in metrics


def test_when_all_is_full_clients_queue_in_order_and_one_gives_up(cluster: Cluster) -> None:
    cluster.yarn_used(97)
    cluster.k8s_used_cpu("10")
    cluster.settle()
    admitted: dict[str, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def client(user: str) -> None:
        try:
            with cluster.connect(user) as conn:
                row = desc(conn)
                admitted[user] = {**row, **cluster.session(row["session_id"], user)}
        except BaseException as e:
            errors.append(e)

    def queued() -> list[str]:
        return [w["user"] for w in cluster.engines()["queue"]]

    ann = threading.Thread(target=client, args=("ann",))
    ann.start()
    eventually(lambda: queued() == ["ann"])
    quitter = RawClient(cluster.gateway.host, cluster.gateway.port)
    quitter.sasl_login("ben")
    message = encode_call("OpenSession", ttypes.TOpenSessionReq(client_protocol=5, username="ben"))
    quitter.sock.sendall(struct.pack(">I", len(message)) + message)
    eventually(lambda: queued() == ["ann", "ben"])
    cid = threading.Thread(target=client, args=("cid",))
    cid.start()
    eventually(lambda: queued() == ["ann", "ben", "cid"])
    engines = cluster.engines()
    assert engines["queue_length"] == 3 and [w["position"] for w in engines["queue"]] == [1, 2, 3]
    assert "no engine can take a new session" in engines["queue"][0]["reason"]
    assert 'adhoc_queue_waiter_seconds{position="2",user="ben"}' in cluster.metrics()

    quitter.close()  # ben gives up: out of the queue at once, not at queue_timeout_s
    eventually(lambda: queued() == ["ann", "cid"], within_s=5)

    cluster.k8s_used_cpu("9")  # room for one session per probe: they go one at a time, in order
    ann.join(30)
    cid.join(30)
    assert not errors, errors
    assert set(admitted) == {"ann", "cid"}
    ann, cid = admitted["ann"], admitted["cid"]
    # room for one per probe: first come, first served (admission order: the engines may then take
    # longer to open one session than the other, so started_at may not keep it)
    assert ann["routed_at"] < cid["routed_at"]
    assert ann["engine"] == cid["engine"] == "k8s-e"
    assert ann["queued_ms"] > 0 and cid["queued_ms"] > 0
    assert "in the queue" in ann["route_reason"] and "in the queue" in cid["route_reason"]
    assert cluster.engines()["queue_length"] == 0
    assert "adhoc_queue_length 0.0" in cluster.metrics()
    cluster.yarn_used(10)
    cluster.k8s_used_cpu("0")
