"""Handles are server-global on the Spark Thrift Server: the gateway must keep them per connection."""

from __future__ import annotations

import time

from pyhive import hive
from TCLIService import ttypes
from thrift.Thrift import TApplicationException

from tests.gateway_harness import GatewayThread

OK = (ttypes.TStatusCode.SUCCESS_STATUS, ttypes.TStatusCode.SUCCESS_WITH_INFO_STATUS)


def test_other_connections_cannot_use_my_handles(gateway: GatewayThread) -> None:
    alice = hive.connect(gateway.host, port=gateway.port, username="alice")
    mallory = hive.connect(gateway.host, port=gateway.port, username="mallory")
    try:
        cur = alice.cursor()
        cur.execute("SELECT id FROM range(100)", async_=True)
        op = cur._operationHandle

        fetch = mallory.client.FetchResults(ttypes.TFetchResultsReq(operationHandle=op, orientation=0, maxRows=10))
        assert fetch.status.statusCode not in OK
        assert "not known on this connection" in fetch.status.errorMessage

        cancel = mallory.client.CancelOperation(ttypes.TCancelOperationReq(operationHandle=op))
        assert cancel.status.statusCode not in OK

        stmt = mallory.client.ExecuteStatement(
            ttypes.TExecuteStatementReq(sessionHandle=alice._sessionHandle, statement="SELECT 1")
        )
        assert stmt.status.statusCode not in OK
        assert "is not open on this connection" in stmt.status.errorMessage

        close = mallory.client.CloseSession(ttypes.TCloseSessionReq(sessionHandle=alice._sessionHandle))
        assert close.status.statusCode not in OK

        # alice's query was neither cancelled nor disturbed
        while cur.poll().operationState in (0, 1):
            time.sleep(0.05)
        assert len(cur.fetchall()) == 100
    finally:
        alice.close()
        mallory.close()


def test_unknown_methods_and_delegation_tokens_are_refused(gateway: GatewayThread) -> None:
    conn = hive.connect(gateway.host, port=gateway.port, username="alice")
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        cur.fetchall()
        try:  # pyhive's GetLog is not a TCLIService call: the gateway answers like an engine does
            conn.client.GetLog(ttypes.TGetLogReq(operationHandle=cur._operationHandle))
            raise AssertionError("GetLog should have failed")
        except TApplicationException as e:
            assert e.type == TApplicationException.UNKNOWN_METHOD
        token = conn.client.GetDelegationToken(
            ttypes.TGetDelegationTokenReq(sessionHandle=conn._sessionHandle, owner="alice", renewer="alice")
        )
        assert token.status.statusCode == ttypes.TStatusCode.ERROR_STATUS
        assert "refused" in token.status.errorMessage
        cur.execute("SELECT 3")  # the connection is still good
        assert cur.fetchall() == [(3,)]
    finally:
        conn.close()
