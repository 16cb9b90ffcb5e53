"""A session on an STS that runs on YARN: the gateway learns the app id with `SET spark.app.id` on
the session (real STS, pyhive) and its UI link goes through the ResourceManager's application proxy
(a loopback fake RM serving what Spark-on-YARN pages look like behind `/proxy/<app_id>/`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from aiohttp import web
from pyhive import hive

from adhoc.config import EngineConfig
from tests.fakes.yarn_rm import FakeResourceManager
from tests.gateway_harness import GatewayThread, gateway_config
from tests.sts import RunningSTS
from tests.ui.test_ui_browser import fetch


class RmWithAppProxy(FakeResourceManager):
    """The RM's web proxy: Spark on YARN writes its links under /proxy/<app_id>/ (spark.ui.proxyBase)."""

    def add_routes(self, app: web.Application) -> None:
        super().add_routes(app)
        app.router.add_get("/proxy/{app_id}/{tail:.*}", self.proxy)

    async def proxy(self, request: web.Request) -> web.Response:
        app_id, tail = request.match_info["app_id"], request.match_info["tail"]
        base = f"/proxy/{app_id}"
        if tail == "":
            raise web.HTTPFound(f"{self.url}{base}/jobs/")
        page = (f'<html><head><script>setUIRoot(\'{base}\')</script></head><body><h1>{app_id} {tail}</h1>'
                f'<a href="{base}/stages/">Stages</a><a href="{self.url}{base}/executors/">Executors</a>'
                f'<img src="{base}/static/spark-logo-77x50px-hd.png"></body></html>')  # fmt: skip
        return web.Response(text=page, content_type="text/html")


@pytest.fixture(scope="module")
def yarn_gateway(sts: RunningSTS) -> Iterator[GatewayThread]:
    rm = RmWithAppProxy().start()
    assert isinstance(rm, RmWithAppProxy)
    engine = EngineConfig(name="yarn-sts", kind="yarn", protocol="sts", address=sts.address, rm_urls=(rm.url,),
                          history_url="http://shs.example:18080")  # fmt: skip
    gw = GatewayThread(dataclasses.replace(gateway_config(sts.address), engines=(engine,)))
    yield gw
    gw.stop()
    rm.stop()


def test_yarn_session_ui_goes_through_the_rm_proxy(yarn_gateway: GatewayThread) -> None:
    gw = yarn_gateway
    with hive.connect(gw.host, port=gw.port, username="yuki") as conn:
        cur = conn.cursor()
        cur.execute("ADHOC DESC SESSION")
        row = dict(zip([d[0] for d in cur.description], cur.fetchall()[0], strict=True))
        session_id, app_id = str(row["session_id"]), str(row["app_id"])
        assert app_id.startswith("local-")  # what `SET spark.app.id` answers on this STS
        base = f"{gw.http_url}/ui/{session_id}/"
        status, headers, _ = fetch(base)
        assert status == 302 and headers["Location"] == f"/ui/{session_id}/jobs/"
        status, _, body = fetch(base + "jobs/")
        page = body.decode()
        assert status == 200 and f"{app_id} jobs/" in page
        assert f'href="/ui/{session_id}/stages/"' in page and f'href="/ui/{session_id}/executors/"' in page
        assert f"setUIRoot('/ui/{session_id}')" in page and "/proxy/" not in page
    status, headers, _ = fetch(base + "jobs/")
    assert status == 302 and headers["Location"] == f"http://shs.example:18080/history/{app_id}/"
