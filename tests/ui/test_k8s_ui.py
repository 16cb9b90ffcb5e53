"""A K8s session's UI link: the proxy finds the driver pod through the K8s API (the real `kubernetes`
client against the loopback fake API server) and proxies to its pod IP at the UI port."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from adhoc.config import EngineConfig
from adhoc.gateway.sessions import SessionRecord
from tests.fakes.k8s_api import FakeKubeApi
from tests.gateway_harness import GatewayThread, gateway_config
from tests.ui.test_ui_browser import fetch
from tests.ui.test_ui_proxy import fake_spark_ui, free_port


@pytest.fixture(scope="module")
def k8s_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayThread, FakeKubeApi]]:
    api = FakeKubeApi().start()
    assert isinstance(api, FakeKubeApi)
    kubeconfig = api.write_kubeconfig(Path(tmp_path_factory.mktemp("k8s")) / "kubeconfig", namespace="spark")
    ui_port = free_port()
    engine = EngineConfig(name="k8s-main", kind="k8s", address="127.0.0.1:1", kubeconfig=str(kubeconfig),
                          namespace="spark", conf={"spark.ui.port": str(ui_port)})  # fmt: skip
    gw = GatewayThread(dataclasses.replace(gateway_config("127.0.0.1:1"), engines=(engine,)))
    runner = web.AppRunner(fake_spark_ui())

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", ui_port).start()

    gw.call(start())
    yield gw, api
    gw.call(runner.cleanup())
    gw.stop()
    api.stop()


def driver_pod(session_id: str, phase: str) -> dict[str, object]:
    return {
        "metadata": {"name": f"adhoc-{session_id[:8]}-driver",
                     "labels": {"adhoc.io/session": session_id, "spark-role": "driver"}},
        "status": {"phase": phase, "podIP": "127.0.0.1" if phase == "Running" else None},
    }  # fmt: skip


def test_link_follows_the_driver_pod_once_it_runs(k8s_gateway: tuple[GatewayThread, FakeKubeApi]) -> None:
    gw, api = k8s_gateway
    record = SessionRecord("0a1b2c3d-k8s", "alice", "k8s", "k8s-main")
    gw.ctx.sessions.add(record)
    url = f"{gw.http_url}/ui/{record.session_id}/jobs/"

    api.put("pods", "spark", driver_pod(record.session_id, "Pending"))
    status, headers, _ = fetch(url)
    assert status == 302 and headers["Location"] == f"/logs/{record.session_id}/"  # no UI to show yet

    api.put("pods", "spark", driver_pod(record.session_id, "Running"))
    gw.ctx.ui_resolver.pod_ttl_s = 0  # look again now, not after the usual 10 s
    status, _, body = fetch(url)
    assert status == 200 and f'href="/ui/{record.session_id}/stages/"' in body.decode()


def test_another_sessions_driver_is_not_picked(k8s_gateway: tuple[GatewayThread, FakeKubeApi]) -> None:
    gw, api = k8s_gateway
    api.put("pods", "spark", driver_pod("someone-else", "Running"))
    record = SessionRecord("mine-no-pod", "alice", "k8s", "k8s-main")
    gw.ctx.sessions.add(record)
    assert fetch(f"{gw.http_url}/ui/mine-no-pod/jobs/")[0] == 302
