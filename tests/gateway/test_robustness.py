"""Bad input costs the sender its connection, never the gateway or anyone else."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from pyhive import hive
from TCLIService import ttypes

from benchmarks.fake_engine import FakeEngine, FakeEngineThread
from tests.engine_checks import wait_until_engine_forgets
from tests.gateway_harness import GatewayThread, gateway_config
from tests.hs2_raw import BAD, COMPLETE, OK, START, RawClient, sasl_frame
from tests.sts import RunningSTS, free_port


def still_serves(gw: GatewayThread) -> None:
    with hive.connect(gw.host, port=gw.port, username="alice") as conn:
        cur = conn.cursor()
        cur.execute("SELECT 7")
        assert cur.fetchall() == [(7,)]


@pytest.fixture(scope="module")
def strict_gateway(sts: RunningSTS) -> Iterator[GatewayThread]:
    gw = GatewayThread(gateway_config(sts.address, handshake_timeout_s=0.5, max_frame_bytes=64 * 1024))
    yield gw
    gw.stop()


def test_garbage_bytes_are_refused(strict_gateway: GatewayThread) -> None:
    client = RawClient(strict_gateway.host, strict_gateway.port)
    client.sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert client.closed_by_peer()
    still_serves(strict_gateway)


def test_unknown_sasl_mechanism_fails_the_handshake(strict_gateway: GatewayThread) -> None:
    client = RawClient(strict_gateway.host, strict_gateway.port)
    client.sock.sendall(sasl_frame(START, b"GSSAPI"))
    status, length = struct.unpack(">BI", client.sock.recv(5))
    assert status == BAD
    assert b"PLAIN" in client.sock.recv(length)
    assert client.closed_by_peer()


@pytest.mark.parametrize("final", [OK, COMPLETE], ids=["pyhive-OK", "jdbc-COMPLETE"])
def test_both_sasl_plain_handshakes(strict_gateway: GatewayThread, final: int) -> None:
    client = RawClient(strict_gateway.host, strict_gateway.port)
    assert client.sasl_login("alice", final=final) == (COMPLETE, b"")
    resp = client.open_session("alice")
    assert resp.status.statusCode == 0
    assert resp.serverProtocolVersion == 5
    client.close()


def test_handshake_that_never_ends_is_dropped(strict_gateway: GatewayThread) -> None:
    silent = RawClient(strict_gateway.host, strict_gateway.port)
    half = RawClient(strict_gateway.host, strict_gateway.port)
    half.sock.sendall(sasl_frame(START, b"PLAIN")[:3])
    started = time.monotonic()
    assert silent.closed_by_peer(5) and half.closed_by_peer(5)
    assert time.monotonic() - started < 3


def test_oversized_frame_is_refused(strict_gateway: GatewayThread) -> None:
    client = RawClient(strict_gateway.host, strict_gateway.port)
    client.sasl_login("alice")
    client.sock.sendall(struct.pack(">I", 10 * 1024 * 1024) + b"\x80" * 1000)
    assert client.closed_by_peer()
    still_serves(strict_gateway)


def test_malformed_thrift_after_handshake(strict_gateway: GatewayThread) -> None:
    client = RawClient(strict_gateway.host, strict_gateway.port)
    client.sasl_login("alice")
    junk = b"\x80\x01\x00\x01\x00\x00\x00\x0bOpenSession\x00\x00\x00\x00\x0c\x00\x01\x99\x00\x01\x00\x00"
    client.sock.sendall(struct.pack(">I", len(junk)) + junk)
    assert client.closed_by_peer()
    still_serves(strict_gateway)


def test_nosasl_client(strict_gateway: GatewayThread) -> None:
    client = RawClient(strict_gateway.host, strict_gateway.port)
    resp = client.open_session("nora", framed=False)
    assert resp.status.statusCode == 0
    stmt = client.call(
        "ExecuteStatement", ttypes.TExecuteStatementReq(sessionHandle=resp.sessionHandle, statement="SELECT 5"), False
    )
    fetch = client.call(
        "FetchResults", ttypes.TFetchResultsReq(operationHandle=stmt.operationHandle, orientation=0, maxRows=5), False
    )
    assert fetch.results.columns[0].i32Val.values == [5]
    client.close()


def test_unreachable_engine_fails_open_session_clearly() -> None:
    gw = GatewayThread(gateway_config(f"127.0.0.1:{free_port()}"))
    try:
        with pytest.raises(Exception, match="unreachable"):
            hive.connect(gw.host, port=gw.port, username="alice")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{gw.http_url}/readyz", timeout=10)
        assert err.value.code == 503 and "unreachable" in err.value.read().decode()
        metrics = urllib.request.urlopen(f"{gw.http_url}/metrics", timeout=10).read().decode()
        assert 'adhoc_errors_total{kind="EngineUnavailable"}' in metrics
    finally:
        gw.stop()


def test_engine_that_dies_mid_session_gives_an_error_not_a_hang() -> None:
    """The shared fake engine, on TCP: it answers OpenSession, then drops the connection."""
    fake = FakeEngineThread(FakeEngine())
    fake.engine.die_on("ExecuteStatement")
    gw = GatewayThread(gateway_config(f"127.0.0.1:{fake.port}"))
    client = RawClient(gw.host, gw.port)
    try:
        client.sasl_login("alice")
        session = client.open_session("alice").sessionHandle
        started = time.monotonic()
        first = client.call(
            "ExecuteStatement", ttypes.TExecuteStatementReq(sessionHandle=session, statement="SELECT 1")
        )
        assert first.status.statusCode == ttypes.TStatusCode.ERROR_STATUS
        assert "closed the connection" in first.status.errorMessage
        assert time.monotonic() - started < 5
        again = client.call(
            "ExecuteStatement", ttypes.TExecuteStatementReq(sessionHandle=session, statement="SELECT 1")
        )
        assert "was lost; open a new session" in again.status.errorMessage
    finally:
        client.close()
        gw.stop()
        fake.stop()


def running_jobs(sts: RunningSTS) -> list[dict[str, object]]:
    base = f"http://127.0.0.1:{sts.ui_port}/api/v1/applications"
    with urllib.request.urlopen(base, timeout=20) as resp:
        app = json.load(resp)[0]["id"]
    with urllib.request.urlopen(f"{base}/{app}/jobs?status=running", timeout=20) as resp:
        return list(json.load(resp))


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_vanished_client_leaves_nothing_running(gateway: GatewayThread, sts: RunningSTS, mode: str) -> None:
    if sts.ui_port is None:
        pytest.fail("this test needs the fixture's own Spark Thrift Server (unset ADHOC_TEST_STS)")
    conn = hive.connect(gateway.host, port=gateway.port, username="victim")
    cur = conn.cursor()
    session_handle = conn._sessionHandle
    slow = "SELECT count(*) FROM range(100000000000) a"
    if mode == "async":
        cur.execute(slow, async_=True)
    else:
        threading.Thread(target=lambda: _swallow(cur.execute, slow), daemon=True).start()
    deadline = time.monotonic() + 20
    while not running_jobs(sts):
        assert time.monotonic() < deadline, "the query never started"
        time.sleep(0.2)
    sock = conn._transport._trans.handle
    # shutdown, not just close: another thread may sit in recv() on this socket (the sync case)
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    started = time.monotonic()
    while running_jobs(sts):
        assert time.monotonic() - started < 5, "the engine still runs the vanished client's query"
        time.sleep(0.1)
    wait_until_engine_forgets(sts, session_handle, within_s=3)


def _swallow(fn: object, *args: object) -> None:
    try:
        fn(*args)  # type: ignore[operator]
    except Exception:
        pass


def test_client_that_stops_reading_is_dropped(sts: RunningSTS) -> None:
    gw = GatewayThread(gateway_config(sts.address, write_timeout_s=1.0))
    client = RawClient(gw.host, gw.port)
    try:
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.sasl_login("slowpoke")
        session = client.open_session("slowpoke").sessionHandle
        stmt = client.call(
            "ExecuteStatement",
            ttypes.TExecuteStatementReq(sessionHandle=session, statement="SELECT id, id FROM range(3000000)"),
        )
        from tests.hs2_raw import encode_call

        fetch = encode_call(
            "FetchResults",
            ttypes.TFetchResultsReq(operationHandle=stmt.operationHandle, orientation=0, maxRows=3000000),
        )
        client.sock.sendall(struct.pack(">I", len(fetch)) + fetch)
        # never read: the gateway must give up on us after write_timeout_s and close our session
        deadline = time.monotonic() + 30
        while gw.ctx.sessions.open_count("slowpoke"):
            assert time.monotonic() < deadline, "the gateway still holds the session of a client that stopped reading"
            time.sleep(0.2)
        still_serves(gw)
    finally:
        client.close()
        gw.stop()


def test_connection_cap_and_idle_timeout(sts: RunningSTS) -> None:
    gw = GatewayThread(gateway_config(sts.address, max_connections=2, idle_timeout_s=1.0))
    try:
        first = hive.connect(gw.host, port=gw.port, username="idle")
        cur = first.cursor()
        cur.execute("SELECT reflect('java.lang.Thread', 'sleep', 2500L)")  # busy for longer than idle_timeout_s
        assert cur.fetchall() == [("null",)]  # reflect() of a void method
        second = RawClient(gw.host, gw.port)
        second.sasl_login("x")
        third = RawClient(gw.host, gw.port)
        assert third.closed_by_peer(3), "a connection over max_connections must be refused"
        # idle clients are dropped after idle_timeout_s, and their sessions closed on the engine
        deadline = time.monotonic() + 10
        while gw.ctx.sessions.open_count("idle"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert second.closed_by_peer(3)
        first._transport.close()  # the gateway hung up on it: no CloseSession to send
    finally:
        gw.stop()
