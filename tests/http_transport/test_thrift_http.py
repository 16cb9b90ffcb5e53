"""HiveServer2's HTTP transport through adhoc, with real clients against a real Spark Thrift Server:
beeline (transportMode=http) and pyhive (scheme="http") get what the binary port gives them."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import subprocess
import threading
import time

import pytest
from pyhive.exc import OperationalError

from tests.gateway_harness import GatewayThread, gateway_config
from tests.http_transport.http_clients import binary, connect, http_port
from tests.logs.s3 import free_port
from tests.requires import require_java
from tests.sts import RunningSTS, spark_home


def test_pyhive_over_http_gets_what_binary_gets(http_gateway: GatewayThread) -> None:
    sql = "SELECT id, cast(id * 7 AS string) AS s, id / 3 AS d FROM range(10000)"
    with connect(http_gateway) as conn:  # pyhive: a new TCP connection per request, Basic on each
        cur = conn.cursor()
        cur.execute(sql)
        over_http = cur.fetchall()
        cur.execute("ADHOC DESC SESSION")
        desc = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=False))
    with binary(http_gateway) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        assert cur.fetchall() == over_http
    assert len(over_http) == 10000
    assert desc["user"] == "alice" and desc["engine"] == "sts-test"
    assert str(desc["spark_ui_url"]).endswith(f"/ui/{desc['session_id']}/")
    events = [json.loads(line) for line in http_gateway.audit_path.read_text().splitlines()]  # type: ignore[attr-defined]
    assert any(e["event"] == "login" and e.get("via") == "thrift-http" and e["user"] == "alice" for e in events)


def test_a_denial_reads_as_on_binary(http_gateway: GatewayThread) -> None:
    messages = []
    for conn in (connect(http_gateway), binary(http_gateway)):
        with conn:
            with pytest.raises(Exception) as refused:
                conn.cursor().execute("SELECT * FROM hr.salaries")
            messages.append(refused.value.args[0].status)
    http_status, binary_status = messages
    assert http_status.sqlState == binary_status.sqlState == "42000"
    assert http_status.errorMessage == binary_status.errorMessage
    assert "hr.salaries" in http_status.errorMessage


def test_a_wrong_password_is_refused_and_another_users_handle_is_unknown(http_gateway: GatewayThread) -> None:
    # pyhive never looks at the HTTP status: the 401 carries its call's reply, an error naming the login
    with pytest.raises(OperationalError) as refused:
        connect(http_gateway, password="nope")
    status = refused.value.args[0].status
    assert status.sqlState == "28000"
    assert status.errorMessage == "Authentication Error: authentication failed for user 'alice'"
    # anything but a Thrift call gets HiveServer2's text
    status_code, _, body = raw_post(http_port(http_gateway), b"x", {"Authorization": "Basic " + base64.b64encode(
        b"alice:nope").decode()})  # fmt: skip
    assert (status_code, body) == (401, b"Authentication Error: authentication failed for user 'alice'\n")
    with connect(http_gateway) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        with connect(http_gateway, "bob", "builder") as other:  # bob replays alice's session handle
            own = other._sessionHandle
            other._sessionHandle = conn._sessionHandle
            with pytest.raises(Exception, match="Invalid SessionHandle"):
                other.cursor().execute("SELECT 2")
            other._sessionHandle = own


def raw_post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/cliservice", body=body, headers=headers)
    r = c.getresponse()
    return r.status, dict(r.getheaders()), r.read()


def test_cookies_hostile_requests_and_others_unaffected(http_gateway: GatewayThread) -> None:
    port = http_port(http_gateway)
    alice = "Basic " + base64.b64encode(b"alice:wonderland").decode()
    status, headers, _ = raw_post(port, b"junk", {"Authorization": alice})
    assert status == 400 and "hive.server2.auth=" in headers.get("Set-Cookie", "")
    cookie = headers["Set-Cookie"].split(";")[0]
    assert "Secure" not in headers["Set-Cookie"] and "HttpOnly" in headers["Set-Cookie"]
    assert raw_post(port, b"junk", {"Cookie": cookie})[0] == 400  # the cookie alone is enough
    forged = cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB")
    assert raw_post(port, b"junk", {"Cookie": forged})[0] == 401
    assert raw_post(port, b"junk", {})[0] == 401
    # 3 GB announced: refused from the header, before a byte of body is read
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST /cliservice HTTP/1.1\r\nHost: x\r\nContent-Length: 3000000000\r\nAuthorization: "
                  + alice.encode() + b"\r\n\r\n")  # fmt: skip
        assert s.recv(100).startswith(b"HTTP/1.1 413")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"\x00\x01garbage\r\n\r\n")
        assert s.recv(100).split(b" ")[1] == b"400"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:  # pipelined, then half-closed
        s.sendall(b"POST /cliservice HTTP/1.1\r\nContent-Length: 4\r\nAuthorization: " + alice.encode()
                  + b"\r\n\r\njunkGET /elsewhere HTTP/1.1\r\n\r\n")  # fmt: skip
        s.shutdown(socket.SHUT_WR)
        answers = b"".join(iter(lambda: s.recv(4096), b""))
        assert re.findall(rb"HTTP/1\.1 (\d+)", answers) == [b"400", b"404"]  # both, in order
    with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
        slow.sendall(b"POST /cliservice HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")  # and no more
        started = time.monotonic()
        with connect(http_gateway) as conn:  # a good client is served meanwhile
            cur = conn.cursor()
            cur.execute("SELECT 3")
            assert cur.fetchall() == [(3,)]
        # the slow one gets 408 once its request is not whole within handshake_timeout_s (3 s here)
        assert slow.recv(100).startswith(b"HTTP/1.1 408") and 2.5 < time.monotonic() - started < 8


def test_twenty_concurrent_http_clients(http_gateway: GatewayThread) -> None:
    errors: list[BaseException] = []

    def client(n: int) -> None:
        try:
            with connect(http_gateway) as conn:
                cur = conn.cursor()
                for i in range(10):
                    cur.execute(f"SELECT {n * 100 + i}")
                    assert cur.fetchall() == [(n * 100 + i,)]
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    time.sleep(0.5)
    assert not http_gateway.gateway._thrift_http.transport.sessions  # every session closed and forgotten


def test_beeline_with_a_wrong_password(http_gateway: GatewayThread) -> None:
    require_java()
    home = spark_home()
    url = f"jdbc:hive2://127.0.0.1:{http_port(http_gateway)}/default;transportMode=http;httpPath=cliservice"
    out = subprocess.run([f"{home}/bin/beeline", "-u", url, "-n", "bob", "-p", "nope", "-e", "SELECT 1"],
                         capture_output=True, text=True, timeout=120, env=dict(os.environ, SPARK_HOME=home),
                         stdin=subprocess.DEVNULL)  # fmt: skip
    # Hive JDBC reads only the status, as against HiveServer2: the failure is the 401
    assert out.returncode != 0
    assert "HTTP Response code: 401" in out.stderr and "Could not open client transport" in out.stderr
    events = [json.loads(line) for line in http_gateway.audit_path.read_text().splitlines()]  # type: ignore[attr-defined]
    assert any(e["event"] == "login" and e["via"] == "thrift-http" and e["user"] == "bob"
               and e["decision"] == "deny" for e in events)  # fmt: skip


def test_beeline_over_http(http_gateway: GatewayThread) -> None:
    require_java()
    home = spark_home()
    url = f"jdbc:hive2://127.0.0.1:{http_port(http_gateway)}/default;transportMode=http;httpPath=cliservice"
    out = subprocess.run([f"{home}/bin/beeline", "-u", url, "-n", "alice", "-p", "wonderland", "-e",
                          "SELECT 40 + 2 AS answer; ADHOC DESC SESSION;"], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, SPARK_HOME=home), stdin=subprocess.DEVNULL)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "| 42      |" in out.stdout and "session_id" in out.stdout
    assert "[adhoc] session " in out.stderr


def test_an_idle_http_session_is_closed_on_its_engine(sts: RunningSTS) -> None:
    gw = GatewayThread(gateway_config(sts.address, thrift_http_port=free_port(), session_idle_timeout_s=2.0))
    try:
        conn = connect(gw, "carol", "any")  # [auth] none: the user is Basic's name
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchall() == [(1,)]
        assert gw.gateway._thrift_http.transport.sessions
        deadline = time.monotonic() + 15
        while gw.gateway._thrift_http.transport.sessions and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not gw.gateway._thrift_http.transport.sessions  # closed after 2 s unused
        with pytest.raises(Exception, match="Invalid SessionHandle"):
            conn.cursor().execute("SELECT 2")  # its handle is no longer open anywhere
    finally:
        gw.stop()
