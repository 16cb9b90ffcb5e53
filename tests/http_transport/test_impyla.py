"""impyla over adhoc's HTTP transport (`use_http_transport=True`, PLAIN = Basic), against the real STS:
results, a denial worded as on the binary port, a wrong password refused naming the login.

impyla's OpenSession names the OS user, whoever Basic names: the session is the Basic user's."""

from __future__ import annotations

import contextlib
import json

import pytest
from impala.dbapi import connect as impyla_connect
from impala.error import HiveServer2Error, HttpError

from tests.gateway_harness import GatewayThread
from tests.http_transport.http_clients import binary, http_port

pytestmark = pytest.mark.usefixtures("collect_here")

def impyla(gw: GatewayThread, user: str = "alice", password: str = "wonderland"):  # type: ignore[no-untyped-def]
    return impyla_connect("127.0.0.1", http_port(gw), use_http_transport=True, http_path="cliservice",
                          auth_mechanism="PLAIN", user=user, password=password, timeout=60)  # fmt: skip


def test_impyla_gets_results_as_the_basic_user(http_gateway: GatewayThread) -> None:
    conn = impyla(http_gateway)
    try:
        cur = conn.cursor()
        cur.execute("SELECT id, cast(id * 7 AS string) AS s FROM range(5000)")
        rows = cur.fetchall()
        cur.execute("ADHOC DESC SESSION")
        desc = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=False))
        cur.close()
    finally:
        conn.close()
    assert rows == [(i, str(i * 7)) for i in range(5000)]
    assert desc["user"] == "alice"  # not the OS user impyla's OpenSession names


def test_impyla_denial_reads_as_on_binary(http_gateway: GatewayThread) -> None:
    conn = impyla(http_gateway)
    try:
        with pytest.raises(HiveServer2Error) as over_http:
            conn.cursor().execute("SELECT * FROM hr.salaries")
    finally:
        conn.close()
    with binary(http_gateway) as conn, pytest.raises(Exception) as over_binary:
        conn.cursor().execute("SELECT * FROM hr.salaries")
    status = over_binary.value.args[0].status
    assert status.sqlState == "42000" and "hr.salaries" in status.errorMessage
    assert str(over_http.value) == status.errorMessage


def test_impyla_wrong_password_is_refused_naming_the_login(http_gateway: GatewayThread) -> None:
    conn = impyla(http_gateway, password="nope")
    with pytest.raises(HttpError) as refused:
        conn.cursor()
    # closed here, not left to the garbage collector: impyla's __del__ makes a blocking call, and
    # collected on the in-process gateway's own thread (a hang seen once) it would wait on itself
    with contextlib.suppress(Exception):
        conn.close()
    # impyla shows "HTTP code 401: Unauthorized" and keeps the body, which names the failed login
    # (in a Thrift reply to its call, for the Thrift clients that never look at the status)
    assert (refused.value.code, refused.value.message) == (401, "Unauthorized")
    assert b"Authentication Error: authentication failed for user 'alice'" in refused.value.body
    events = [json.loads(line) for line in http_gateway.audit_path.read_text().splitlines()]  # type: ignore[attr-defined]
    assert any(e["event"] == "login" and e["via"] == "thrift-http" and e["user"] == "alice"
               and e["decision"] == "deny" for e in events)  # fmt: skip
