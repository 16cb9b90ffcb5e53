"""SIGTERM (Gateway.close) drains: idle clients are let go at once, running statements finish."""

from __future__ import annotations

import threading
import time
from typing import Any

from pyhive import hive
from TCLIService import ttypes

from tests.engine_checks import wait_until_engine_forgets
from tests.gateway_harness import GatewayThread, gateway_config
from tests.sts import RunningSTS


def sleeping(ms: int) -> str:
    """A statement that takes a known time on the engine: asleep in the driver, then 42."""
    return f"SELECT reflect('java.lang.Thread', 'sleep', {ms}L) AS slept, 42 AS answer"


def test_idle_clients_do_not_hold_up_a_stop(sts: RunningSTS) -> None:
    gw = GatewayThread(gateway_config(sts.address, drain_timeout_s=30.0))
    conn = hive.connect(gw.host, port=gw.port, username="idler")
    cur = conn.cursor()
    cur.execute("SELECT 1")
    assert cur.fetchall() == [(1,)]
    session_handle = conn._sessionHandle
    started = time.monotonic()
    gw.stop()
    assert time.monotonic() - started < 5, "an idle client kept the gateway from stopping"
    wait_until_engine_forgets(sts, session_handle, within_s=3)


def test_running_statements_finish_before_the_stop(sts: RunningSTS) -> None:
    gw = GatewayThread(gateway_config(sts.address, drain_timeout_s=30.0))
    results: dict[str, Any] = {}

    def sync_client() -> None:
        with hive.connect(gw.host, port=gw.port, username="sync") as conn:
            cur = conn.cursor()
            cur.execute(sleeping(3000))
            results["sync"] = [row[1] for row in cur.fetchall()]

    def async_client() -> None:
        with hive.connect(gw.host, port=gw.port, username="async") as conn:
            cur = conn.cursor()
            # Longer than STS's 5 s status long-poll: the client sees RUNNING, then is silent a while.
            cur.execute(sleeping(7000), async_=True)
            running = (ttypes.TOperationState.INITIALIZED_STATE, ttypes.TOperationState.RUNNING_STATE,
                       ttypes.TOperationState.PENDING_STATE)  # fmt: skip
            while cur.poll().operationState in running:
                time.sleep(1.5)  # a slow poller: silent for longer than the gateway calls a client idle
            results["async"] = [row[1] for row in cur.fetchall()]

    clients = [threading.Thread(target=fn, daemon=True) for fn in (sync_client, async_client)]
    for t in clients:
        t.start()
    deadline = time.monotonic() + 20
    while not (gw.ctx.sessions.open_count("sync") and gw.ctx.sessions.open_count("async")):
        assert time.monotonic() < deadline, "the clients never opened their sessions"
        time.sleep(0.05)
    time.sleep(0.5)  # both statements are on the engine now
    started = time.monotonic()
    gw.stop()
    for t in clients:
        t.join(10)
    assert results == {"sync": [42], "async": [42]}, "a running statement lost its result to the stop"
    assert 1 < time.monotonic() - started < 15
