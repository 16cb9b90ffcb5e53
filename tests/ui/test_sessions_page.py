"""The `/` page where auth is on: nobody's sessions without credentials, yours with them, everyone's
for an admin; `/login` asks the browser for credentials."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from pyhive import hive

from adhoc.gateway.sessions import SessionRecord
from tests.gateway_harness import GatewayThread
from tests.ui.conftest import PASSWORDS
from tests.ui.test_ui_browser import basic, fetch


@pytest.fixture(scope="module")
def two_sessions(ui_gateway: GatewayThread) -> Iterator[dict[str, str]]:
    conns, ids = [], {}
    for user in ("alice", "bob"):
        password = PASSWORDS[user]
        conn = hive.connect(ui_gateway.host, port=ui_gateway.port, username=user, password=password, auth="CUSTOM")
        cur = conn.cursor()
        cur.execute("ADHOC DESC SESSION")
        ids[user] = str(cur.fetchall()[0][0])
        conns.append(conn)
    yield ids
    for conn in conns:
        conn.close()


def test_without_credentials_no_sessions_and_a_way_to_log_in(
    ui_gateway: GatewayThread, two_sessions: dict[str, str]
) -> None:
    status, _, body = fetch(f"{ui_gateway.http_url}/")
    page = body.decode()
    assert status == 200 and 'href="/login"' in page
    assert two_sessions["alice"][:8] not in page and two_sessions["bob"][:8] not in page
    status, headers, _ = fetch(f"{ui_gateway.http_url}/login")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    status, headers, _ = fetch(f"{ui_gateway.http_url}/login", basic("alice"))
    assert status == 302 and headers["Location"] == "/"
    wrong = "Basic " + base64.b64encode(b"alice:nope").decode()
    assert fetch(f"{ui_gateway.http_url}/", wrong)[0] == 401


def test_users_see_their_own_and_admins_everyones(ui_gateway: GatewayThread, two_sessions: dict[str, str]) -> None:
    alice = fetch(f"{ui_gateway.http_url}/", basic("alice"))[2].decode()
    assert two_sessions["alice"][:8] in alice and two_sessions["bob"][:8] not in alice
    assert f'href="{ui_gateway.http_url}/ui/{two_sessions["alice"]}/"' in alice
    carol = fetch(f"{ui_gateway.http_url}/", basic("carol"))[2].decode()
    assert two_sessions["alice"][:8] in carol and two_sessions["bob"][:8] in carol and "(admin)" in carol


def test_page_escapes_what_users_control(ui_gateway: GatewayThread) -> None:
    ui_gateway.ctx.sessions.add(SessionRecord("x<script>", "alice", "local", "<b>eng</b>"))
    page = fetch(f"{ui_gateway.http_url}/", basic("alice"))[2].decode()
    assert "<script>" not in page and "&lt;b&gt;eng&lt;/b&gt;" in page
    ui_gateway.ctx.sessions.close("x<script>")
