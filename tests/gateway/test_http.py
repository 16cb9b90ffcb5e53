"""The HTTP side: health, Prometheus metrics and the session API."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
import uuid

import pytest
from pyhive import hive

from tests.gateway_harness import GatewayThread


def get(url: str, user: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url)
    if user:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:pw".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_health(gateway: GatewayThread) -> None:
    assert get(f"{gateway.http_url}/livez")[0] == 200
    status, body = get(f"{gateway.http_url}/readyz")
    assert status == 200 and json.loads(body)["ready"] is True


def test_metrics_count_what_happened(gateway: GatewayThread) -> None:
    with hive.connect(gateway.host, port=gateway.port, username="metric") as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        cur.fetchall()
        status, body = get(f"{gateway.http_url}/metrics")
    assert status == 200
    samples = {line.split(" ")[0]: float(line.split(" ")[1]) for line in body.splitlines() if line and line[0] != "#"}
    assert samples["adhoc_connections_open"] >= 1
    assert samples['adhoc_calls_total{call="ExecuteStatement"}'] >= 1
    assert samples['adhoc_relayed_bytes_total{direction="to_client"}'] > 0
    assert samples['adhoc_sessions_total{engine="sts-test"}'] >= 1


def test_sessions_api_shows_only_my_sessions(gateway: GatewayThread) -> None:
    with hive.connect(gateway.host, port=gateway.port, username="dora") as conn:
        cur = conn.cursor()
        cur.execute("ADHOC DESC SESSION")
        session_id = cur.fetchall()[0][0]
        status, body = get(f"{gateway.http_url}/api/v1/sessions", user="dora")
        assert status == 200
        mine = json.loads(body)["sessions"]
        assert [s["session_id"] for s in mine if s["state"] == "open"] == [session_id]
        one = json.loads(get(f"{gateway.http_url}/api/v1/sessions/{session_id}", user="dora")[1])
        assert one["user"] == "dora" and one["engine"] == "sts-test" and one["route"] == "local"
        # the public id is the gateway's own; the engine's handle id is kept beside it
        engine_id = str(uuid.UUID(bytes=conn._sessionHandle.sessionId.guid))
        assert one["engine_session_id"] == engine_id != session_id
        assert get(f"{gateway.http_url}/api/v1/sessions/{session_id}", user="eve")[0] == 404
        assert all(
            s["user"] == "eve" for s in json.loads(get(f"{gateway.http_url}/api/v1/sessions", "eve")[1])["sessions"]
        )
    assert get(f"{gateway.http_url}/api/v1/sessions")[0] == 401


def test_engines_api(gateway: GatewayThread) -> None:
    get(f"{gateway.http_url}/readyz")
    engines = json.loads(get(f"{gateway.http_url}/api/v1/engines")[1])["engines"]
    assert [(e["name"], e["kind"], e["available"]) for e in engines] == [("sts-test", "local", True)]


@pytest.mark.parametrize("path", ["/api/v1/sessions/nope", "/nothing-here"])
def test_unknown_paths_are_404(gateway: GatewayThread, path: str) -> None:
    assert get(f"{gateway.http_url}{path}", user="x")[0] == 404
