"""An STS whose `ui_url` accepts connections and never answers: OpenSession does not wait for it,
and the ended session's link still leads to the history server with the engine's real app id."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator

import pytest
from pyhive import hive

from adhoc.config import EngineConfig
from tests.gateway_harness import GatewayThread, gateway_config
from tests.sts import RunningSTS
from tests.ui.conftest import HISTORY_URL
from tests.ui.test_ui_browser import fetch

UI_TIMEOUT_S = 30.0  # how long a UI request may take: an OpenSession waiting on it would take this long


@pytest.fixture
def silent_ui() -> Iterator[str]:
    """A loopback port whose backlog completes TCP handshakes that nobody ever answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def silent_gateway(sts: RunningSTS, silent_ui: str) -> Iterator[GatewayThread]:
    engine = EngineConfig(name="sts-silent-ui", kind="local", protocol="sts", address=sts.address,
                          ui_url=silent_ui, history_url=HISTORY_URL)  # fmt: skip
    gw = GatewayThread(dataclasses.replace(gateway_config(sts.address), engines=(engine,)))
    gw.ctx.app_ids.timeout_s = UI_TIMEOUT_S
    yield gw
    gw.stop()


def test_open_session_does_not_wait_for_a_silent_ui(silent_gateway: GatewayThread) -> None:
    gw = silent_gateway
    for _ in range(2):  # the second after the engine's app id is cached, too
        started = time.monotonic()
        conn = hive.connect(gw.host, port=gw.port, username="alice")
        opened_in = time.monotonic() - started
        assert opened_in < UI_TIMEOUT_S / 2, f"OpenSession took {opened_in:.1f} s: it waited for the UI"
        cur = conn.cursor()
        cur.execute("SET spark.app.id")
        app_id = cur.fetchall()[0][1]
        assert app_id.startswith("local-")
        cur.execute("ADHOC DESC SESSION")
        row = dict(zip([d[0] for d in cur.description], cur.fetchall()[0], strict=True))
        assert row["app_id"] == app_id
        session_id = str(row["session_id"])
        conn.close()
        status, headers, _ = fetch(f"{gw.http_url}/ui/{session_id}/jobs/")
        assert status == 302 and headers["Location"] == f"{HISTORY_URL}/history/{app_id}/"
