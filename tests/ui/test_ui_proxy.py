"""The UI proxy against a loopback stand-in for a driver's UI (what a K8s driver pod or a YARN RM
proxy would serve): redirects, streaming, what is and is not passed on, and what happens when the
driver stops answering."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from aiohttp import web

from adhoc.gateway.sessions import SessionRecord
from adhoc.http import ui_proxy
from tests.gateway_harness import GatewayThread, gateway_config
from tests.ui.test_ui_browser import fetch

RELEASE = threading.Event()


def fake_spark_ui() -> web.Application:
    async def root(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://{request.host}/jobs/")

    async def jobs(request: web.Request) -> web.Response:
        body = (f'<html><head><link rel="shortcut icon" href="http://{request.host}/static/logo.png"></head>'
                f'<body><a href="http://{request.host}/stages/">stages</a> <a href="/proxy/x/">y</a>'
                f"<script>setUIRoot('')</script></body></html>")  # fmt: skip
        return web.Response(text=body, content_type="text/html")

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"path_qs": request.raw_path, "headers": dict(request.headers)})

    async def big(request: web.Request) -> web.StreamResponse:
        """1 MiB, then waits until the test saw it arrive, then 9 MiB more."""
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await resp.prepare(request)
        await resp.write(b"a" * (1 << 20))
        await asyncio.get_running_loop().run_in_executor(None, RELEASE.wait, 20)
        for _ in range(9):
            await resp.write(b"b" * (1 << 20))
        await resp.write_eof()
        return resp

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(text="too late")

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_get("/jobs/", jobs)
    app.router.add_get("/api/v1/echo", echo)
    app.router.add_get("/big", big)
    app.router.add_get("/hang", hang)
    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def proxied() -> Iterator[tuple[GatewayThread, str]]:
    """A gateway (auth off) with two open sessions: s-live on the fake UI, s-dead on a closed port."""
    gw = GatewayThread(gateway_config("127.0.0.1:1"))
    port = free_port()
    runner = web.AppRunner(fake_spark_ui())

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    gw.call(start())
    driver = f"http://127.0.0.1:{port}"
    gw.ctx.sessions.add(SessionRecord("s-live", "alice", "k8s", "sts-test", app_id="app-9", engine_ui_url=driver))
    gw.ctx.sessions.add(
        SessionRecord("s-dead", "alice", "k8s", "sts-test", engine_ui_url=f"http://127.0.0.1:{free_port()}")
    )
    yield gw, driver
    gw.call(runner.cleanup())
    gw.stop()


def test_root_redirect_and_links_stay_under_the_prefix(proxied: tuple[GatewayThread, str]) -> None:
    gw, driver = proxied
    status, headers, _ = fetch(f"{gw.http_url}/ui/s-live/")
    assert status == 302 and headers["Location"] == "/ui/s-live/jobs/"
    status, headers, body = fetch(f"{gw.http_url}/ui/s-live/jobs/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    page = body.decode()
    assert 'href="/ui/s-live/static/logo.png"' in page and 'href="/ui/s-live/stages/"' in page
    assert driver not in page and "setUIRoot('/ui/s-live')" in page
    assert fetch(f"{gw.http_url}/ui/s-live")[1]["Location"] == "/ui/s-live/"


def test_query_strings_pass_and_credentials_do_not(proxied: tuple[GatewayThread, str]) -> None:
    gw, _ = proxied
    req = urllib.request.Request(
        f"{gw.http_url}/ui/s-live/api/v1/echo?status=running&x=%2F",
        headers={"Authorization": "Basic YWxpY2U6cHc=", "Cookie": "session=1", "Accept": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        seen = json.load(resp)
    assert seen["path_qs"] == "/api/v1/echo?status=running&x=%2F"
    sent = {k.lower(): v for k, v in seen["headers"].items()}
    assert "authorization" not in sent and "cookie" not in sent
    assert sent["x-forwarded-context"] == "/ui/s-live" and sent["accept"] == "application/json"


def test_bodies_stream_through(proxied: tuple[GatewayThread, str]) -> None:
    """The first MiB reaches the browser while the driver is still holding back the rest."""
    gw, _ = proxied
    RELEASE.clear()
    with urllib.request.urlopen(f"{gw.http_url}/ui/s-live/big", timeout=20) as resp:
        first = resp.read(1 << 20)
        assert first == b"a" * (1 << 20)
        RELEASE.set()
        rest = resp.read()
    assert len(rest) == 9 << 20


def test_a_driver_that_is_gone_redirects_within_seconds(proxied: tuple[GatewayThread, str]) -> None:
    gw, _ = proxied
    status, headers, _ = fetch(f"{gw.http_url}/ui/s-dead/jobs/")
    assert status == 302 and headers["Location"] == "/logs/s-dead/"


def test_a_driver_that_hangs_redirects(proxied: tuple[GatewayThread, str], monkeypatch: pytest.MonkeyPatch) -> None:
    gw, _ = proxied
    monkeypatch.setattr(ui_proxy, "HEADERS_TIMEOUT_S", 0.5)
    status, headers, _ = fetch(f"{gw.http_url}/ui/s-live/hang")
    assert status == 302 and headers["Location"] == "/logs/s-live/"


def test_read_only_and_unknown(proxied: tuple[GatewayThread, str]) -> None:
    gw, _ = proxied
    req = urllib.request.Request(f"{gw.http_url}/ui/s-live/jobs/job/kill/?id=1", data=b"", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 405
    assert fetch(f"{gw.http_url}/ui/nope/jobs/")[0] == 404


def test_absolute_form_request_target_cannot_pick_a_host(proxied: tuple[GatewayThread, str]) -> None:
    gw, _ = proxied
    host, port = gw.http_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(
            b"GET http://example.com/ui/s-live/api/v1/echo HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
        )
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    assert status == 400 or b"example.com" not in reply.split(b"\r\n\r\n", 1)[1], reply[:300]


def test_page_without_auth_lists_every_session(proxied: tuple[GatewayThread, str]) -> None:
    gw, _ = proxied
    status, _, body = fetch(f"{gw.http_url}/")
    page = body.decode()
    assert status == 200 and "s-live" in page and "s-dead" in page and "Authentication is off" in page
    assert '<meta http-equiv="refresh"' in page and 'name="viewport"' in page


def test_ended_session_is_remembered_after_the_registry_forgot_it(proxied: tuple[GatewayThread, str]) -> None:
    gw, _ = proxied
    record = SessionRecord("s-old", "alice", "k8s", "sts-test", app_id="app-1", ended_at=time.time())
    gw.ctx.ended_sessions.session_closed(record)
    status, headers, _ = fetch(f"{gw.http_url}/ui/s-old/jobs/")
    assert status == 302 and headers["Location"] == "/logs/s-old/"
