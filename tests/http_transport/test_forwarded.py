"""Behind an ingress: the client an HTTP request is for comes from X-Forwarded-For only when the TCP
peer is one of `[server] trusted_proxies`, and then it is what the login throttle keys on and what
the audit names — through a real pyhive over the HTTP transport and the JSON API."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from impala.dbapi import connect as impyla_connect
from pyhive import hive
from thrift.transport.THttpClient import THttpClient

from adhoc.auth.passwd import passwd_main
from adhoc.config import AuditConfig, AuthConfig, load_config
from adhoc.errors import ConfigError
from adhoc.http.client_address import client_peer
from tests.gateway_harness import GatewayThread, gateway_config
from tests.http_transport.http_clients import http_port
from tests.logs.s3 import free_port
from tests.sts import RunningSTS

LOOPBACK = ("127.0.0.0/8",)


def test_the_forwarded_client_is_believed_only_from_a_trusted_peer() -> None:
    assert client_peer((), "127.0.0.1:5000", "203.0.113.7") == "127.0.0.1:5000"  # nobody trusted: the peer
    assert client_peer(("10.0.0.0/8",), "127.0.0.1:5000", "203.0.113.7") == "127.0.0.1:5000"  # peer not trusted
    assert client_peer(LOOPBACK, "127.0.0.1:5000", "203.0.113.7") == "203.0.113.7:0"
    # a chain of proxies: the right-most address that is not one of ours; a client's own words left of it
    trusted = ("127.0.0.0/8", "10.0.0.0/8")
    assert client_peer(trusted, "127.0.0.1:1", "1.1.1.1, 203.0.113.7, 10.0.2.9") == "203.0.113.7:0"
    assert client_peer(trusted, "127.0.0.1:1", "10.1.1.1, 10.0.2.9") == "10.1.1.1:0"  # all ours: the left-most
    assert client_peer(trusted, "127.0.0.1:1", "203.0.113.7, not-an-address") == "127.0.0.1:1"
    assert client_peer(trusted, "127.0.0.1:1", "garbage, 10.0.2.9") == "10.0.2.9:0"
    assert client_peer(("::1/128",), "::1:4000", "[2001:db8::7]:443") == "2001:db8::7:0"
    assert client_peer(LOOPBACK, "::ffff:127.0.0.1:4000", " 198.51.100.2 ") == "198.51.100.2:0"


@given(st.text(max_size=80), st.sampled_from(["127.0.0.1:9", "192.0.2.1:9", "::1:9", "junk"]))
def test_any_header_gives_the_peer_or_an_address(header: str, peer: str) -> None:
    got = client_peer(LOOPBACK, peer, header)
    if not peer.startswith("127."):
        assert got == peer  # an untrusted peer's header is never read
    else:
        host = got.rsplit(":", 1)[0]
        assert got == peer or (got.endswith(":0") and host in header)


def test_a_bad_network_exits_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "adhoc.toml"
    config.write_text('[server]\ntrusted_proxies = ["10.0.0.0/8", "10.0.0.300/8"]\n')
    with pytest.raises(ConfigError) as e:
        load_config(str(config))
    assert e.value.key == "server.trusted_proxies" and "10.0.0.300/8" in e.value.message
    config.write_text('[server]\ntrusted_proxies = ["10.0.0.0/8", "fd00::/8", "192.0.2.4"]\n')
    assert load_config(str(config)).server.trusted_proxies == ("10.0.0.0/8", "fd00::/8", "192.0.2.4")


@pytest.fixture(scope="module")
def behind_ingress(sts: RunningSTS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    tmp = Path(tmp_path_factory.mktemp("ingress"))
    users = tmp / "users.toml"
    passwd_main(str(users), "alice", stdin=io.StringIO("wonderland\n"), stderr=io.StringIO())
    config = gateway_config(sts.address, thrift_http_port=free_port(), trusted_proxies=LOOPBACK)
    config = dataclasses.replace(config, auth=AuthConfig(method="file", users=str(users), max_failures=100),
                                 audit=AuditConfig(file=str(tmp / "audit.jsonl")))  # fmt: skip
    gw = GatewayThread(config)
    gw.audit_path = tmp / "audit.jsonl"  # type: ignore[attr-defined]
    yield gw
    gw.stop()


def logins(gw: GatewayThread) -> list[dict[str, Any]]:
    lines = gw.audit_path.read_text().splitlines()  # type: ignore[attr-defined]
    return [e for e in map(json.loads, lines) if e["event"] == "login"]


def through_ingress(gw: GatewayThread, forwarded_for: str, password: str = "wonderland") -> hive.Connection:
    """pyhive over HTTP as an ingress would pass it on: Basic, plus the X-Forwarded-For it adds."""
    transport = THttpClient(f"http://127.0.0.1:{http_port(gw)}/cliservice")
    basic = base64.b64encode(f"alice:{password}".encode()).decode()
    transport.setCustomHeaders({"Authorization": f"Basic {basic}", "X-Forwarded-For": forwarded_for})
    return hive.connect(username="alice", thrift_transport=transport)


def test_through_a_trusted_ingress_the_audit_and_throttle_see_the_client(behind_ingress: GatewayThread) -> None:
    with through_ingress(behind_ingress, "203.0.113.7, 127.0.0.5") as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT 1 AS one")
        assert cursor.fetchall() == [(1,)]
    allowed = [e for e in logins(behind_ingress) if e["decision"] == "allow"]
    assert allowed and allowed[-1]["client"] == "203.0.113.7:0" and allowed[-1]["via"] == "thrift-http"

    with pytest.raises(Exception):  # noqa: B017 - pyhive's error for a 401 varies; the audit is the point
        through_ingress(behind_ingress, "198.51.100.9", password="guess")
    denied = logins(behind_ingress)[-1]
    assert denied["decision"] == "deny" and denied["client"] == "198.51.100.9:0"

    api = f"{behind_ingress.http_url}/api/v1/sessions"
    reply = requests.get(api, auth=("alice", "nope"), headers={"X-Forwarded-For": "192.0.2.44"}, timeout=10)
    assert reply.status_code == 401
    assert logins(behind_ingress)[-1]["client"] == "192.0.2.44:0" and logins(behind_ingress)[-1]["via"] == "http"


def test_without_trusted_proxies_the_header_is_ignored(http_gateway: GatewayThread) -> None:
    with through_ingress(http_gateway, "203.0.113.7") as conn:
        conn.cursor().execute("SELECT 1")
    lines = [json.loads(x) for x in http_gateway.audit_path.read_text().splitlines()]  # type: ignore[attr-defined]
    allowed = [e for e in lines if e["event"] == "login" and e["decision"] == "allow"]
    assert allowed[-1]["client"].startswith("127.0.0.1:") and "203.0.113.7" not in allowed[-1]["client"]


@pytest.mark.usefixtures("collect_here")
def test_over_max_connections_an_http_client_is_told_so_and_sessions_are_bounded(sts: RunningSTS) -> None:
    gw = GatewayThread(gateway_config(sts.address, thrift_http_port=free_port(), max_connections=2))
    try:
        port = http_port(gw)

        def impyla(user: str) -> Any:  # a new TCP connection per request: only sessions add up
            return impyla_connect("127.0.0.1", port, use_http_transport=True, http_path="cliservice",
                                  auth_mechanism="PLAIN", user=user, password="x", timeout=60)  # fmt: skip

        first, second = impyla("ann"), impyla("ben")
        sessions = [first.cursor(), second.cursor()]  # an impyla cursor is a session, open until closed
        third = impyla("cy")
        with pytest.raises(Exception) as refused:
            third.cursor()
        # closed here, not left to the garbage collector: impyla's __del__ makes a blocking call, and
        # collected on the in-process gateway's own thread it would wait on itself
        with contextlib.suppress(Exception):
            third.close()
        assert "too many sessions over HTTP (2, [server] max_connections)" in str(refused.value)

        for session in sessions:
            session.close()
        # the TCP cap: connections idle between requests make room for newcomers (oldest first) ...
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
        time.sleep(0.2)
        with hive.connect("127.0.0.1", port=port, scheme="http", username="di") as conn:
            cursor = conn.cursor()
            cursor.execute("SELECT 5")
            assert cursor.fetchall() == [(5,)]
        assert idle[0].recv(100) == b""  # the oldest idle one was closed to make room
        # ... but with every connection mid-request, a newcomer is told so, not left hanging
        busy = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
        for s in busy:
            s.sendall(b"POST /cliservice HTTP/1.1\r\nContent-Length: 100\r\n\r\npartial")
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as third:
            answer = b"".join(iter(lambda: third.recv(4096), b""))
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable") and b"Connection: close" in answer
        assert b"too many connections to this gateway's HTTP transport (2)" in answer
        for s in [*idle, *busy]:
            s.close()
        first.close()
        second.close()
    finally:
        gw.stop()
