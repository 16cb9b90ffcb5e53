"""Three replicas on one real ZooKeeper in front of one real Spark Thrift Server: Hive JDBC finds them
through ZooKeeper, a user's max_sessions holds across the fleet, a stopping replica leaves discovery
first, and a ZooKeeper outage refuses only new sessions."""

from __future__ import annotations

import base64
import dataclasses
import http.server
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from kazoo.client import KazooClient
from pyhive import hive

from adhoc.config import HaConfig, PolicyConfig
from tests.gateway_harness import GatewayThread, gateway_config
from tests.ha.zookeeper import ZooKeeperServer
from tests.logs.s3 import free_port
from tests.logs.served import ServedGateway
from tests.requires import require_java
from tests.sts import RunningSTS, spark_home

POLICY = """
[groups]
bi = ["ian", "jo"]

[[limits]]
group = "bi"
max_sessions = 1

[[rules]]
principals = ["*"]
read = ["*.*"]
max_sessions = 2
"""


HISTORY = "http://history.example:18080"


class FakeSparkUi(http.server.BaseHTTPRequestHandler):
    """Stands in for the engine's Spark UI: the proxy path is what is tested, not Spark's pages."""

    def do_GET(self) -> None:
        body = f"fake Spark UI at {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def spark_ui() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeSparkUi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def replica_config(sts: RunningSTS, zk: ZooKeeperServer, policy: Path, ui_url: str = "") -> object:
    config = gateway_config(sts.address)
    engines = tuple(dataclasses.replace(e, ui_url=ui_url, history_url=HISTORY) for e in config.engines)
    return dataclasses.replace(config, ha=HaConfig(zookeeper=zk.hosts, session_timeout_s=2.0),
                               policy=PolicyConfig(file=str(policy)), engines=engines)  # fmt: skip


@pytest.fixture
def fleet(sts: RunningSTS, zookeeper: ZooKeeperServer, tmp_path: Path, spark_ui: str) -> Iterator[list[GatewayThread]]:
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    replicas = [GatewayThread(replica_config(sts, zookeeper, policy, spark_ui))  # type: ignore[arg-type]
                for _ in range(3)]  # fmt: skip
    yield replicas
    for replica in replicas:
        replica.stop()


def zk_client(zk: ZooKeeperServer) -> KazooClient:
    client = KazooClient(hosts=zk.hosts)
    client.start(10)
    return client


def registered(zk: ZooKeeperServer) -> dict[str, str]:
    client = zk_client(zk)
    try:
        return {name: client.get(f"/adhoc/{name}")[0].decode() for name in client.get_children("/adhoc")}
    finally:
        client.stop()
        client.close()


def until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_each_replica_registers_as_hiveserver2_does_and_beeline_finds_them(
    fleet: list[GatewayThread], zookeeper: ZooKeeperServer
) -> None:
    znodes = registered(zookeeper)
    assert len(znodes) == 3
    for replica in fleet:
        (name,) = [n for n in znodes if n.startswith(f"serverUri=127.0.0.1:{replica.port};version=")]
        assert name.split("sequence=")[1].isdigit() and len(name.split("sequence=")[1]) == 10
        data = dict(kv.split("=", 1) for kv in znodes[name].split(";"))
        assert data["hive.server2.thrift.bind.host"] == "127.0.0.1"
        assert data["hive.server2.thrift.port"] == str(replica.port)
        assert data["hive.server2.transport.mode"] == "binary"
    require_java()
    home = spark_home()
    url = f"jdbc:hive2://{zookeeper.hosts}/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=adhoc"
    out = subprocess.run([f"{home}/bin/beeline", "-u", url, "-n", "alice", "-e", "SELECT 40 + 2 AS answer"],
                         capture_output=True, text=True, timeout=120, env=dict(os.environ, SPARK_HOME=home),
                         stdin=subprocess.DEVNULL)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "| 42      |" in out.stdout


def test_max_sessions_holds_across_replicas_and_frees_on_close(fleet: list[GatewayThread]) -> None:
    first = hive.connect(fleet[0].host, port=fleet[0].port, username="alice")
    second = hive.connect(fleet[1].host, port=fleet[1].port, username="alice")
    with pytest.raises(Exception, match=r"max_sessions = 2"):
        hive.connect(fleet[2].host, port=fleet[2].port, username="alice")
    bob = hive.connect(fleet[2].host, port=fleet[2].port, username="bob")  # others are not affected
    bob.close()
    first.close()
    # the place goes when the session closes (asynchronously, a ZooKeeper round trip)
    deadline = time.monotonic() + 5
    while True:
        try:
            third = hive.connect(fleet[2].host, port=fleet[2].port, username="alice")
            break
        except Exception:
            assert time.monotonic() < deadline, "the closed session's place was not freed"
            time.sleep(0.2)
    cur = third.cursor()
    cur.execute("SELECT 1")
    assert cur.fetchall() == [(1,)]
    third.close()
    second.close()


def test_a_stopping_replica_leaves_discovery_before_it_drains(
    fleet: list[GatewayThread], zookeeper: ZooKeeperServer
) -> None:
    leaving = fleet.pop()
    name = next(n for n in registered(zookeeper) if f":{leaving.port};" in n)
    stopping = leaving.call(leaving.gateway.parts[-1].stop())  # what SIGTERM runs first
    assert stopping is None and name not in registered(zookeeper)
    conn = hive.connect(leaving.host, port=leaving.port, username="carol")  # still serving while it drains
    conn.close()
    leaving.stop()
    assert len(registered(zookeeper)) == 2


def test_zookeeper_down_refuses_new_sessions_only_and_everything_returns(
    sts: RunningSTS, zookeeper: ZooKeeperServer, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    replica = GatewayThread(replica_config(sts, zookeeper, policy))  # type: ignore[arg-type]
    try:
        conn = hive.connect(replica.host, port=replica.port, username="alice")
        zookeeper.stop()
        until(lambda: not replica.ctx.fleet.connected, 10, "the replica to notice")
        with pytest.raises(Exception, match="ZooKeeper"):
            hive.connect(replica.host, port=replica.port, username="dave")
        cur = conn.cursor()  # the open session keeps working
        cur.execute("SELECT 2")
        assert cur.fetchall() == [(2,)]
        time.sleep(3)  # past the 2 s session timeout: ZooKeeper forgets the replica's znodes
        zookeeper.start()
        # The restarted server either expires the replica's session (the replica then registers
        # again and re-creates its sessions' places) or lets it resume (its znodes never left).
        until(lambda: replica.ctx.fleet.connected, 30, "the replica to reconnect")
        until(lambda: len(registered(zookeeper)) == 1 and replica.ctx.fleet.status()["znode"], 20,
              "exactly one live registration")  # fmt: skip
        client = zk_client(zookeeper)  # alice's open session has its place again
        try:
            until(lambda: client.get_children("/adhoc-fleet/sessions"), 10, "the session's place")
        finally:
            client.stop()
            client.close()
        hive.connect(replica.host, port=replica.port, username="dave").close()
        conn.close()
    finally:
        replica.stop()


def test_a_killed_replica_leaves_discovery_and_frees_its_sessions_places(
    fleet: list[GatewayThread], sts: RunningSTS, zookeeper: ZooKeeperServer, tmp_path: Path
) -> None:
    """kill -9: no clean-up runs, ZooKeeper forgets the replica when its session expires (2 s here)."""
    (tmp_path / "policy.toml").write_text(POLICY)
    config = tmp_path / "adhoc.toml"
    config.write_text(f"""
[server]
host = "127.0.0.1"
thrift_port = {free_port()}
http_port = {free_port()}
data_dir = "{tmp_path / "data"}"
[ha]
zookeeper = "{zookeeper.hosts}"
session_timeout_s = 2.0
[policy]
file = "{tmp_path / "policy.toml"}"
[[engines]]
name = "sts"
kind = "local"
protocol = "sts"
address = "{sts.address}"
""")
    doomed = ServedGateway(config).start()
    try:
        host, port = doomed.ready.split("thrift=", 1)[1].split()[0].rsplit(":", 1)
        assert any(f":{port};" in name for name in registered(zookeeper))
        held = [hive.connect(host, port=int(port), username="erin"),  # erin's two places: one on each side
                hive.connect(fleet[0].host, port=fleet[0].port, username="erin")]  # fmt: skip
        with pytest.raises(Exception, match=r"max_sessions = 2"):
            hive.connect(fleet[1].host, port=fleet[1].port, username="erin")
        doomed.kill()
        until(lambda: not any(f":{port};" in name for name in registered(zookeeper)), 15, "the znode to go")
        hive.connect(fleet[1].host, port=fleet[1].port, username="erin").close()  # the slot came back
        held[1].close()
    finally:
        doomed.kill()


def test_a_sessions_links_and_api_answer_on_any_replica(fleet: list[GatewayThread]) -> None:
    conn = hive.connect(fleet[0].host, port=fleet[0].port, username="frank")
    try:
        (record,) = [r for r in fleet[0].ctx.sessions.open_sessions() if r.user == "frank"]
        sid = record.session_id
        other = fleet[2].http_url
        until(lambda: fleet[2].call(fleet[2].ctx.fleet.owner_of(sid)), 5, "the fleet to know the session")

        def get(path: str, user: str = "frank", base: str = other) -> Any:
            request = urllib.request.Request(base + path, headers={"Authorization": basic(user)})
            return urllib.request.urlopen(request, timeout=20)

        def answer(path: str, base: str) -> tuple[int, bytes]:
            try:
                response = get(path, base=base)
                return response.status, response.read()
            except urllib.error.HTTPError as e:
                return e.code, e.read()

        one = json.load(get(f"/api/v1/sessions/{sid}"))
        assert one["session_id"] == sid and one["user"] == "frank" and one["engine"] == "sts-test"
        assert sid in {s["session_id"] for s in json.load(get("/api/v1/sessions"))["sessions"]}
        for path in (f"/ui/{sid}/static/app.js", f"/logs/{sid}/"):  # answered as the owner answers itself
            assert answer(path, other) == answer(path, fleet[0].http_url)
        assert answer(f"/ui/{sid}/static/app.js", fleet[1].http_url) == (200, b"fake Spark UI at /static/app.js")
        with pytest.raises(urllib.error.HTTPError) as refused:  # still only frank's
            get(f"/api/v1/sessions/{sid}", "mallory")
        assert refused.value.code == 404
    finally:
        conn.close()

    # Ended: its link leads to its history (or logs) on every replica, as on the one that held it.
    until(lambda: fleet[2].call(fleet[2].ctx.fleet.owner_of(sid)) is None, 5, "the session to end")

    def link(base: str, user: str = "frank") -> tuple[int, str]:
        response = requests.get(f"{base}/ui/{sid}/", headers={"Authorization": basic(user)}, allow_redirects=False,
                                timeout=20)  # fmt: skip
        return response.status_code, response.headers.get("Location", "")

    status, location = link(fleet[0].http_url)
    assert status in (302, 303, 307) and (location.startswith(f"{HISTORY}/history/") or f"/logs/{sid}/" in location)
    until(lambda: link(other) == (status, location), 5, "another replica to answer the ended session's link")
    assert link(fleet[1].http_url) == (status, location)
    never = "00000000-0000-4000-8000-000000000000"
    assert requests.get(f"{other}/ui/{never}/", allow_redirects=False, timeout=20).status_code == 404


def basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:x".encode()).decode()


def test_a_group_cap_holds_across_replicas(fleet: list[GatewayThread]) -> None:
    """bi may hold one session: ian's on one replica makes jo wait on another until ian leaves."""
    ian = hive.connect(fleet[0].host, port=fleet[0].port, username="ian")
    time.sleep(0.5)  # ian's session is recorded in ZooKeeper (in the background after OpenSession)
    admitted: list[object] = []
    waiter = threading.Thread(target=lambda: admitted.append(hive.connect(fleet[1].host, port=fleet[1].port,
                                                                          username="jo")), daemon=True)  # fmt: skip
    started = time.monotonic()
    waiter.start()
    until(lambda: fleet[1].ctx.router.status()["queue_length"] == 1, 10, "jo to wait in replica 2's queue")
    assert "group bi is at its session cap" in fleet[1].ctx.router.status()["queue"][0]["reason"]
    time.sleep(1.0)
    assert not admitted
    ian.close()
    waiter.join(15)
    assert admitted, "jo was not admitted once ian's session ended on the other replica"
    assert time.monotonic() - started < 15
    admitted[0].close()  # type: ignore[attr-defined]
