"""Authentication as clients see it: SASL PLAIN over Thrift, Basic on HTTP, with a users file."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request

import pytest
from pyhive import hive
from thrift.transport.TTransport import TTransportException

from tests.gateway.test_beeline import beeline
from tests.gateway_harness import GatewayThread
from tests.hs2_raw import RawClient


def test_right_password_runs_as_that_user(secured: GatewayThread) -> None:
    with hive.connect(secured.host, port=secured.port, username="alice", password="wonderland", auth="CUSTOM") as conn:
        cur = conn.cursor()
        cur.execute("SELECT current_user()")
        assert cur.fetchall() == [("alice",)]


def test_wrong_password_fails_the_handshake_in_pyhive(secured: GatewayThread) -> None:
    with pytest.raises(TTransportException, match="authentication failed for user 'alice'"):
        hive.connect(secured.host, port=secured.port, username="alice", password="guess", auth="CUSTOM")


def test_wrong_password_in_beeline(secured: GatewayThread) -> None:
    out = beeline(secured, "-n", "alice", "-p", "guess", "-e", "SELECT 1;")
    assert out.returncode != 0
    assert "Peer indicated failure: authentication failed for user 'alice'" in out.stdout + out.stderr
    ok = beeline(secured, "-n", "alice", "-p", "wonderland", "-e", "SELECT 1 AS ok;")
    assert ok.returncode == 0, ok.stderr[-2000:]


def test_nosasl_client_authenticates_at_open_session(secured: GatewayThread) -> None:
    client = RawClient(secured.host, secured.port)
    from TCLIService import ttypes

    req = ttypes.TOpenSessionReq(client_protocol=5, username="alice", password="nope")
    resp = client.call("OpenSession", req, framed=False)
    assert resp.status.statusCode == ttypes.TStatusCode.ERROR_STATUS
    assert "authentication failed" in resp.status.errorMessage
    client.close()


def test_http_basic_auth(secured: GatewayThread) -> None:
    def status(password: str) -> int:
        req = urllib.request.Request(f"{secured.http_url}/api/v1/sessions")
        req.add_header("Authorization", "Basic " + base64.b64encode(f"alice:{password}".encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as e:
            return e.code

    assert status("wonderland") == 200
    assert status("guess") == 401


def test_logins_are_counted(secured: GatewayThread) -> None:
    metrics = urllib.request.urlopen(f"{secured.http_url}/metrics", timeout=10).read().decode()
    assert 'adhoc_logins_total{outcome="failure"}' in metrics
