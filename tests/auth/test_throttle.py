"""Login throttling: guessing is slowed, the right password always gets in, every failure audited."""

from __future__ import annotations

import dataclasses
import io
import json
import time
from pathlib import Path

import pytest
from pyhive import hive
from thrift.transport.TTransport import TTransportException

from adhoc.auth.passwd import passwd_main
from adhoc.auth.throttle import ADDRESS_DELAY_CAP_S, FRESH_USER_CAP_S, Throttle
from adhoc.config import AuditConfig, AuthConfig
from adhoc.errors import AuthenticationError
from tests.auth.test_authenticators import Clock, Fixed
from tests.gateway_harness import GatewayThread, gateway_config
from tests.sts import RunningSTS


def throttle(clock: Clock, max_delay_s: float = 30.0) -> Throttle:
    return Throttle(Fixed(), max_failures=3, delay_s=1.0, max_delay_s=max_delay_s, clock=clock,  # type: ignore[arg-type]
                    sleep=clock.sleep)  # fmt: skip


async def fail(t: Throttle, user: str, peer: str, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(AuthenticationError):
            await t.authenticate(user, "wrong", peer)


async def test_others_failures_from_an_address_cost_a_user_at_most_5_s() -> None:
    clock = Clock()
    t = throttle(clock)
    await fail(t, "mallory", "10.0.0.1:1", times=20)
    assert max(clock.slept) == 30.0  # mallory herself is slowed down all the way
    assert t.delay_for("alice", "10.0.0.1") == ADDRESS_DELAY_CAP_S == 5.0
    clock.slept.clear()
    assert (await t.authenticate("alice", "right", "10.0.0.1:2")).name == "alice"
    assert clock.slept == [5.0]
    assert t.delay_for("alice", "10.0.0.2") == 0.0  # another address: nothing at all


async def test_no_wait_exceeds_the_bound_so_the_right_password_gets_in() -> None:
    clock = Clock()
    t = throttle(clock, max_delay_s=4.0)  # the gateway passes half the handshake timeout
    await fail(t, "alice", "10.0.0.1:1", times=30)
    assert max(clock.slept) == 4.0
    clock.slept.clear()
    assert (await t.authenticate("alice", "right", "10.0.0.1:1")).name == "alice"
    assert clock.slept == [4.0]


async def test_a_success_clears_the_users_count_and_not_the_addresss() -> None:
    clock = Clock()
    t = throttle(clock)
    await fail(t, "alice", "10.0.0.1:1", times=6)
    await fail(t, "bob", "10.0.0.1:1", times=6)
    await t.authenticate("alice", "right", "10.0.0.1:1")
    assert t.delay_for("alice", "10.0.0.1") == ADDRESS_DELAY_CAP_S  # only the address's others remain
    assert t.delay_for("alice", "10.0.0.9") == 0.0
    assert t.delay_for("bob", "10.0.0.1") > ADDRESS_DELAY_CAP_S  # bob's own failures still count


async def test_a_failure_after_a_wait_says_so() -> None:
    clock = Clock()
    t = throttle(clock)
    await fail(t, "alice", "10.0.0.1:1", times=3)
    with pytest.raises(AuthenticationError, match=r"authentication failed \(after a 1 s wait: repeated failures"):
        await t.authenticate("alice", "wrong", "10.0.0.1:1")
    clock.now += 10_000  # old failures are forgotten
    assert t.delay_for("alice", "10.0.0.1") == 0.0


def test_many_failures_from_one_address_never_lock_out_the_right_password(sts: RunningSTS, tmp_path: Path) -> None:
    """pyhive through a gateway with auth = file: after 12 failures from 127.0.0.1 (others' and
    alice's own) the right password still gets in, and every failure is in the audit log."""
    users = tmp_path / "users.toml"
    passwd_main(str(users), "alice", stdin=io.StringIO("wonderland\n"), stderr=io.StringIO())
    config = gateway_config(sts.address, handshake_timeout_s=2.0)
    config = dataclasses.replace(
        config,
        auth=AuthConfig(method="file", users=str(users), max_failures=2, failure_delay_s=0.1),
        audit=AuditConfig(file=str(tmp_path / "audit.jsonl")),
    )
    gw = GatewayThread(config)
    try:
        with hive.connect(gw.host, port=gw.port, username="alice", password="wonderland", auth="CUSTOM") as conn:
            conn.cursor().execute("SELECT current_user()")  # the engine's first statements are slow: not timed
        for i in range(12):
            with pytest.raises(TTransportException):
                hive.connect(gw.host, port=gw.port, username="alice" if i % 3 else "mallory", password=f"guess{i}",
                             auth="CUSTOM")  # fmt: skip
        started = time.monotonic()
        with hive.connect(gw.host, port=gw.port, username="alice", password="wonderland", auth="CUSTOM") as conn:
            cur = conn.cursor()
            cur.execute("SELECT current_user()")
            assert cur.fetchall() == [("alice",)]
        assert time.monotonic() - started < 2.0 + 1.5  # the wait stays under the handshake timeout
    finally:
        gw.stop()
    events = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    denials = [e for e in events if e["event"] == "login" and e["decision"] == "deny"]
    assert len(denials) == 12
    assert {e["user"] for e in denials} == {"alice", "mallory"}
    assert all("authentication failed" in e["reason"] for e in denials)
    assert any("wait: repeated failures" in e["reason"] for e in denials)
    assert [e["decision"] for e in events if e["event"] == "login"][-1] == "allow"


async def test_a_real_login_does_not_hand_a_spread_out_guesser_fresh_guesses() -> None:
    clock = Clock()
    t = throttle(clock)
    for i in range(10):  # each guess from another address: every one "fresh" there
        await fail(t, "bob", f"10.1.0.{i}:1")
    before = t.delay_for("bob", "10.9.9.9")
    assert before > 0
    assert (await t.authenticate("bob", "right", "10.2.0.1:1")).name == "bob"
    clock.now += before  # the real login's own wait passes; the guessers' record does not
    assert t.delay_for("bob", "10.9.9.8") > 0
    assert t.delay_for("bob", "10.2.0.1") <= FRESH_USER_CAP_S  # bob himself: the fresh line's 2 s at most
