"""Guessing in parallel: the throttle bounds the *rate* of password checks, not each attempt's wait.

100 connections guessing bob's password at once used to get 100 checks per wave (14 guesses/s
measured); now each user at an address gets one check per `max_delay_s` once past `max_failures`,
the rest are refused at once without a check, and bob from another address still gets in.
Real SASL PLAIN handshakes against a gateway with a users file; the fake engine stands in for Spark.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from adhoc.auth import Principal
from adhoc.auth.passwd import passwd_main
from adhoc.auth.throttle import Throttle
from adhoc.auth.users_file import UsersFileAuthenticator
from adhoc.gateway.context import GatewayContext
from adhoc.gateway.server import ThriftServer
from benchmarks.auth import handshake
from benchmarks.fake_engine import FakeEngine
from tests.gateway.fast.conftest import config, one_engine

MAX_FAILURES = 3
MAX_DELAY_S = 1.0


class Counting(UsersFileAuthenticator):
    """The users file, counting the password checks the throttle lets through."""

    checks = 0

    async def authenticate(self, user: str, password: str, peer: str) -> Principal:
        Counting.checks += 1
        return await super().authenticate(user, password, peer)


async def test_parallel_guesses_are_rate_bounded_and_the_right_password_gets_in(tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    passwd_main(str(users), "bob", stdin=io.StringIO("builder\n"), stderr=io.StringIO())
    Counting.checks = 0
    throttle = Throttle(Counting(str(users)), max_failures=MAX_FAILURES, delay_s=0.1, max_delay_s=MAX_DELAY_S)
    ctx = GatewayContext(config(), one_engine(), connect_engine=FakeEngine().connector, authenticator=throttle)
    server = ThriftServer(ctx)
    await server.start("127.0.0.1", 0)
    port = server.address[1]
    loop = asyncio.get_running_loop()
    window_s = 3.0
    stop_at = loop.time() + window_s

    async def attacker(n: int) -> int:
        got_in = 0
        while loop.time() < stop_at:
            got_in += await handshake(port, "bob", f"guess{n}", "127.0.0.1")
            await asyncio.sleep(0.02)
        return got_in

    try:
        attackers = [asyncio.create_task(attacker(n)) for n in range(100)]
        await asyncio.sleep(1.0)  # the flood is on: bob logs in from another address
        started = loop.time()
        assert await handshake(port, "bob", "builder", source="127.0.0.2")
        bob_waited = loop.time() - started
        assert sum(await asyncio.gather(*attackers)) == 0
    finally:
        await server.stop(0)
    # the first MAX_FAILURES checks run at once, a few more fit in the first MAX_DELAY_S as the
    # intervals double (0.1, 0.2, 0.4, 0.8), then one per MAX_DELAY_S; plus bob's own check
    bound = MAX_FAILURES + 4 + window_s / MAX_DELAY_S + 1 + 1
    assert Counting.checks <= bound, f"{Counting.checks} password checks in {window_s} s"
    assert bob_waited < 5.0
