"""Questions asked of the Spark Thrift Server directly, behind the gateway's back."""

from __future__ import annotations

import time
from typing import Any

from pyhive import hive
from TCLIService import ttypes

from tests.sts import RunningSTS


def wait_until_engine_forgets(sts: RunningSTS, session_handle: Any, within_s: float) -> None:
    """Fail unless the engine stops knowing `session_handle` within `within_s` seconds.

    Handles are server-global on STS, so another connection can ask about it. GetInfo would not do:
    Spark answers it without looking the session up; ExecuteStatement does."""
    started = time.monotonic()
    direct = hive.connect(sts.host, port=sts.port, username="auditor")
    try:
        while True:
            req = ttypes.TExecuteStatementReq(sessionHandle=session_handle, statement="SELECT 1")
            resp = direct.client.ExecuteStatement(req)
            if resp.status.statusCode == ttypes.TStatusCode.ERROR_STATUS:
                break
            assert time.monotonic() - started < within_s, "the engine still holds the client's session"
            time.sleep(0.1)
        assert "Invalid SessionHandle" in resp.status.errorMessage
    finally:
        direct.close()
