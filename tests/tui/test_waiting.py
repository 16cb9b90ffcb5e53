"""adhoc-sql while the gateway holds its session in the queue: it says where it waits, and Esc leaves."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from pyhive import hive

from adhoc.auth.passwd import passwd_main
from adhoc.config import AuthConfig, Config, EngineConfig, RoutingConfig, ServerConfig
from tests.fakes.yarn_rm import FakeResourceManager
from tests.gateway_harness import GatewayThread
from tests.sts import RunningSTS
from tui.adapter import Connection
from tui.cli import wait_for_admission
from tui.queue_watch import Background, QueuePlace, QueueWatch
from tui.screens.waiting import WaitingApp


class Watch(QueueWatch):
    def __init__(self, place: QueuePlace | None) -> None:
        self._place = place

    def place(self) -> QueuePlace | None:
        return self._place


PLACE = QueuePlace(position=2, length=3, waited_s=4.0, reason="every engine is full: yarn-main at 97%")


class Conn(Connection):  # the slot a real connection would fill; never called here
    def execute(self, sql: str) -> object:  # type: ignore[override]
        raise NotImplementedError

    databases = tables = columns = session_info = close = execute  # type: ignore[assignment]


def test_headless_says_once_when_it_starts_waiting_and_once_when_admitted() -> None:
    err = io.StringIO()
    conn = Conn()
    got = wait_for_admission(lambda: (time.sleep(1.5), conn)[1], headless=True, watch=Watch(PLACE), err=err)
    assert got is conn
    lines = err.getvalue().splitlines()
    assert lines[0] == ("adhoc-sql: waiting in the gateway's queue: position 2 of 3, 4 s so far — "
                        "every engine is full: yarn-main at 97%")  # fmt: skip
    assert lines[1].startswith("adhoc-sql: admitted after ") and len(lines) == 2


def test_a_fast_open_says_nothing() -> None:
    err = io.StringIO()
    assert wait_for_admission(Conn, headless=True, watch=Watch(PLACE), err=err) is not None
    assert err.getvalue() == ""


async def test_the_wait_screen_shows_the_place_and_esc_gives_up() -> None:
    release = threading.Event()
    app = WaitingApp(Background(lambda: release.wait(30)), Watch(PLACE))
    async with app.run_test() as pilot:
        await pilot.pause(1.3)
        text = str(app.query_one("#wait").render())
        assert "position 2 of 3" in text and "yarn-main at 97%" in text and "Esc gives up" in text
        await pilot.press("escape")
    assert app.return_value is False
    release.set()


async def test_the_wait_screen_ends_when_admitted() -> None:
    app = WaitingApp(Background(lambda: time.sleep(0.5)), Watch(None))
    async with app.run_test() as pilot:
        await pilot.pause(1.5)
    assert app.return_value is True


def full_config(sts: RunningSTS, rm: FakeResourceManager, auth: AuthConfig | None = None) -> Config:
    """A gateway whose only engine is a YARN queue at 100%: every new session waits."""
    rm.set_queue("root.adhoc", used=100.0, max=100.0)
    return Config(
        server=ServerConfig(host="127.0.0.1", thrift_port=0, http_port=0, drain_timeout_s=1.0),
        routing=RoutingConfig(probe_ttl_s=0.5, queue_timeout_s=30, probe_timeout_s=1),
        engines=(EngineConfig(name="yarn-full", kind="yarn", protocol="sts", address=sts.address,
                              rm_urls=(rm.url,), queue="root.adhoc"),),
        auth=auth or AuthConfig(),
    )  # fmt: skip


@pytest.fixture
def full_gateway(sts: RunningSTS) -> Iterator[GatewayThread]:
    with FakeResourceManager.capacity() as rm:
        gw = GatewayThread(full_config(sts, rm))
        gw.rm = rm  # type: ignore[attr-defined]
        yield gw
        gw.stop()


def test_the_watch_finds_our_place_in_a_real_gateways_queue(full_gateway: GatewayThread) -> None:
    outcome: list[object] = []
    waiter = threading.Thread(target=lambda: outcome.append(hive.connect(full_gateway.host, port=full_gateway.port,
                                                                         username="gina")), daemon=True)  # fmt: skip
    waiter.start()
    watch = QueueWatch(full_gateway.http_url, "gina", None)
    deadline = time.monotonic() + 10
    while (place := watch.place()) is None:
        assert time.monotonic() < deadline, "the session never showed in the queue"
        time.sleep(0.2)
    assert place.position == 1 and place.length == 1 and "yarn-full" in place.reason
    assert QueueWatch(full_gateway.http_url, "someone-else", None).place() is None
    full_gateway.rm.set_queue("root.adhoc", used=10.0, max=100.0)  # type: ignore[attr-defined]
    waiter.join(20)
    assert outcome and watch.place() is None  # admitted: out of the queue


def test_headless_adhoc_sql_against_a_full_gateway_says_it_waits_then_runs(full_gateway: GatewayThread) -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "--host", full_gateway.host, "--port", str(full_gateway.port), "--user", "hank",
         "--http-url", full_gateway.http_url, "-e", "SELECT 41 + 1 AS answer", "--format", "csv"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stderr is not None
    first = proc.stderr.readline()
    assert first.startswith("adhoc-sql: waiting in the gateway's queue: position 1 of 1"), first
    full_gateway.rm.set_queue("root.adhoc", used=10.0, max=100.0)  # type: ignore[attr-defined]
    out, rest = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert rest.startswith("adhoc-sql: admitted after ")
    assert out.splitlines() == ["answer", "42"]


def test_with_passwords_a_waiters_name_is_shown_only_to_that_user(sts: RunningSTS, tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    for user in ("gina", "hal"):
        passwd_main(str(users), user, stdin=io.StringIO(f"{user}-pw\n"), stderr=io.StringIO())
    with FakeResourceManager.capacity() as rm:
        gw = GatewayThread(full_config(sts, rm, AuthConfig(method="file", users=str(users))))
        try:
            def gina() -> None:
                hive.connect(gw.host, port=gw.port, username="gina", password="gina-pw", auth="CUSTOM").close()

            waiter = threading.Thread(target=gina, daemon=True)
            waiter.start()
            watch = QueueWatch(gw.http_url, "gina", "gina-pw")
            deadline = time.monotonic() + 10
            while (place := watch.place()) is None:
                assert time.monotonic() < deadline, "gina never found her place in the queue"
                time.sleep(0.2)
            assert place.position == 1
            anonymous = requests.get(f"{gw.http_url}/api/v1/engines", timeout=10).json()
            as_hal = requests.get(f"{gw.http_url}/api/v1/engines", auth=("hal", "hal-pw"), timeout=10).json()
            assert [(w["position"], w["user"]) for w in anonymous["queue"]] == [(1, "")]
            assert [(w["position"], w["user"]) for w in as_hal["queue"]] == [(1, "")]
            assert requests.get(f"{gw.http_url}/api/v1/engines", auth=("hal", "wrong"), timeout=10).status_code == 401
            rm.set_queue("root.adhoc", used=10.0, max=100.0)
            waiter.join(20)
        finally:
            gw.stop()
