"""How session conf reaches each kind of engine, and how the first reachable engine is chosen."""

from __future__ import annotations

import asyncio

import pytest

from adhoc.auth import Principal
from adhoc.engines import Engine
from adhoc.errors import EngineUnavailable, PermissionDenied
from adhoc.routing import CapacityRouter
from adhoc.routing.clock import FakeClock
from adhoc.routing.probing import TcpProbe
from tests.sts import free_port


def test_sts_gets_hiveconf_keys_and_engine_conf_wins() -> None:
    engine = Engine("s", "local", "sts", "h", 1, conf={"spark.sql.shuffle.partitions": "64"})
    conf = engine.session_conf({"set:hiveconf:spark.sql.shuffle.partitions": "7", "use:database": "x"}, None)
    assert conf == {"set:hiveconf:spark.sql.shuffle.partitions": "64", "use:database": "x"}


def test_kyuubi_gets_plain_keys_and_proxy_user() -> None:
    engine = Engine("k", "yarn", "kyuubi", "h", 1, conf={"spark.yarn.queue": "root.adhoc"}, user="svc")
    conf = engine.session_conf({}, "alice")
    assert conf == {
        "spark.yarn.queue": "root.adhoc",
        "hive.server2.proxy.user": "alice",
        "kyuubi.session.proxy.user": "alice",
    }


async def _listener() -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_first_reachable_skips_dead_engines_and_caches_probes() -> None:
    server, port = await _listener()
    dead = Engine("dead", "yarn", "kyuubi", "127.0.0.1", free_port())
    alive = Engine("alive", "k8s", "kyuubi", "127.0.0.1", port)
    clock = FakeClock()
    tcp = TcpProbe(timeout_s=1)
    router = CapacityRouter([dead, alive], {"dead": tcp, "alive": tcp}, probe_ttl_s=5, queue_timeout_s=0, clock=clock)
    alice = Principal("alice")
    route = await router.route(alice, None)
    assert route.engine is alive and "dead Thrift endpoint" in route.reason and "unreachable" in route.reason
    assert (await router.route(alice, "k8s")).engine is alive
    with pytest.raises(PermissionDenied, match="unknown route 'mars'"):
        await router.route(alice, "mars")
    server.close()
    await server.wait_closed()
    assert (await router.route(alice, None)).engine is alive  # cached for probe_ttl_s
    clock.time += 10
    with pytest.raises(EngineUnavailable, match="no engine can take a new session"):
        await router.route(alice, None)


def test_route_explain_json(tmp_path: object, sts: object) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    path = Path(str(tmp_path)) / "adhoc.toml"
    dead_port = free_port()
    path.write_text(
        f'[[engines]]\nname = "down"\nkind = "local"\nprotocol = "kyuubi"\naddress = "127.0.0.1:{dead_port}"\n'
        f'[[engines]]\nname = "sts"\nkind = "local"\naddress = "{sts.address}"\n'  # type: ignore[attr-defined]
    )
    cmd = [sys.executable, "-m", "adhoc", "route", "explain", "--config", str(path), "--user", "alice", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert (result["engine"], result["kind"]) == ("sts", "local")
    assert [(e["name"], e["available"]) for e in result["engines"]] == [("down", False), ("sts", True)]
    only_down = subprocess.run([*cmd, "--route", "down"], capture_output=True, text=True, timeout=60)
    assert only_down.returncode == 1 and json.loads(only_down.stdout)["engine"] is None


def test_route_explain_embedded_and_policy_routes(tmp_path: object) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    base = Path(str(tmp_path))
    (base / "policy.toml").write_text('[[rules]]\nprincipals = ["user:alice"]\nroutes = ["k8s"]\n'
                                      '[[rules]]\nprincipals = ["user:bob"]\n')  # fmt: skip
    (base / "adhoc.toml").write_text('[policy]\nfile = "policy.toml"\n')
    cmd = [sys.executable, "-m", "adhoc", "route", "explain", "--config", str(base / "adhoc.toml"), "--json"]
    bob = json.loads(subprocess.run([*cmd, "--user", "bob"], capture_output=True, text=True, timeout=60).stdout)
    assert (bob["engine"], bob["engines"][0]["reason"]) == ("local", "the embedded engine, started by adhoc serve")
    alice = subprocess.run([*cmd, "--user", "alice"], capture_output=True, text=True, timeout=60)
    assert alice.returncode == 1
    assert json.loads(alice.stdout)["engines"][0]["reason"] == "policy routes do not allow alice on it"
    stranger = subprocess.run([*cmd, "--user", "carol"], capture_output=True, text=True, timeout=60)
    assert stranger.returncode == 1
    refused = json.loads(stranger.stdout)
    assert refused["engine"] is None
    assert refused["reason"] == "no session: permission denied: no rule in policy.toml grants anything to carol"
