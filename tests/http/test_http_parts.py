"""The HTTP modules on their own, no engine needed: Basic auth goes through the one login step
(counted and audited like a Thrift login), and /readyz answers within a kubelet's patience."""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adhoc.auth import Principal
from adhoc.auth.build import build_authenticator
from adhoc.auth.passwd import passwd_main
from adhoc.auth.recent import RecentLogins
from adhoc.config import AuthConfig, Config
from adhoc.engines import Engine
from adhoc.errors import AuthenticationError
from adhoc.gateway import login as login_step
from adhoc.gateway.context import GatewayContext
from adhoc.http.app import build_app
from adhoc.http.health import READY_BUDGET_S
from adhoc.routing import CapacityRouter
from adhoc.routing.figures import Reachable
from tests.fakes.probes import ScriptedProbe


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def client_for(ctx: GatewayContext) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(build_app(ctx)))
    await client.start_server()
    return client


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[tuple[GatewayContext, list[dict[str, Any]]]]:
    users = tmp_path / "users.toml"
    passwd_main(str(users), "alice", stdin=io.StringIO("wonderland\n"), stderr=io.StringIO())
    config = Config(auth=AuthConfig(method="file", users=str(users), max_failures=100))
    audit: list[dict[str, Any]] = []
    ctx = GatewayContext(config=config, router=CapacityRouter([], {}), authenticator=build_authenticator(config))
    ctx.audit = audit.append
    yield ctx, audit


def logins(ctx: GatewayContext, outcome: str) -> float:
    value = ctx.metrics.registry.get_sample_value("adhoc_logins_total", {"outcome": outcome})
    return value or 0.0


async def test_http_login_failure_is_counted_and_audited(secured: tuple[GatewayContext, list[dict[str, Any]]]) -> None:
    ctx, audit = secured
    client = await client_for(ctx)
    try:
        resp = await client.get("/api/v1/sessions", headers=basic("alice", "guess"))
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith('Basic realm="adhoc"')
        assert "authentication failed for user 'alice'" in await resp.text()
        assert logins(ctx, "failure") == 1
        [event] = audit
        assert event["event"] == "login" and event["decision"] == "deny" and event["via"] == "http"
        assert event["user"] == "alice" and event["client"].startswith("127.0.0.1:")
        assert "wonderland" not in str(event) and "guess" not in str(event)

        resp = await client.get("/api/v1/sessions", headers=basic("alice", "wonderland"))
        assert resp.status == 200 and await resp.json() == {"sessions": []}
        assert logins(ctx, "success") == 1
        assert audit[-1]["decision"] == "allow" and audit[-1]["via"] == "http"
    finally:
        await client.close()


@pytest.mark.parametrize(
    "header",
    ["", "Bearer abc", "Basic !!!not-base64", "Basic " + base64.b64encode(b"no-colon").decode()],
)
async def test_missing_or_malformed_credentials_get_a_challenge(
    secured: tuple[GatewayContext, list[dict[str, Any]]], header: str
) -> None:
    ctx, audit = secured
    client = await client_for(ctx)
    try:
        resp = await client.get("/api/v1/sessions", headers={"Authorization": header} if header else {})
        assert resp.status == 401 and "WWW-Authenticate" in resp.headers
        assert audit == []  # nobody tried a password: nothing to audit or throttle
    finally:
        await client.close()


def slow_router(slow_s: float) -> CapacityRouter:
    """Two engines: one answers at once, one takes far longer than a kubelet waits."""
    fast, slow = Engine("fast", "local", "sts", "127.0.0.1", 1), Engine("slow", "yarn", "kyuubi", "10.0.0.1", 1)
    return CapacityRouter([fast, slow], {
        "fast": ScriptedProbe(Reachable("", "fast probed")),
        "slow": ScriptedProbe(Reachable("", "slow probed"), delay=slow_s),
    })  # fmt: skip


async def test_readyz_probes_in_parallel_and_answers_within_its_budget() -> None:
    ctx = GatewayContext(config=Config(), router=slow_router(slow_s=30))
    client = await client_for(ctx)
    try:
        started = time.monotonic()
        resp = await client.get("/readyz")
        elapsed = time.monotonic() - started
        body = await resp.json()
    finally:
        await client.close()
    assert elapsed < READY_BUDGET_S + 0.5
    assert resp.status == 200 and body["ready"] is True
    assert body["engines"] == {"fast": "fast probed", "slow": f"no answer within {READY_BUDGET_S:g} s"}


async def test_livez() -> None:
    client = await client_for(GatewayContext(config=Config(), router=CapacityRouter([], {})))
    try:
        resp = await client.get("/livez")
        assert resp.status == 200
    finally:
        await client.close()


Secured = tuple[GatewayContext, list[dict[str, Any]]]


async def test_a_page_of_requests_costs_one_password_check(secured: Secured) -> None:
    """A browser resends Basic credentials with every request (each asset of a proxied Spark UI)."""
    ctx, audit = secured
    client = await client_for(ctx)
    try:
        for _ in range(5):
            assert (await client.get("/api/v1/sessions", headers=basic("alice", "wonderland"))).status == 200
        assert logins(ctx, "success") == 1 and len(audit) == 1
        # a wrong password is never answered from memory
        assert (await client.get("/api/v1/sessions", headers=basic("alice", "guess"))).status == 401
        assert logins(ctx, "failure") == 1 and audit[-1]["decision"] == "deny"
    finally:
        await client.close()


def test_remembered_logins_expire_and_are_keyed_by_password_and_host() -> None:
    now = [0.0]
    recent = RecentLogins(ttl_s=60, max_entries=2, clock=lambda: now[0])
    alice = Principal("alice")
    recent.put("alice", "wonderland", "10.0.0.7", alice)
    assert recent.get("alice", "wonderland", "10.0.0.7") == alice
    assert recent.get("alice", "wonderland2", "10.0.0.7") is None
    assert recent.get("alice", "wonderland", "10.0.0.8") is None
    now[0] = 60.0
    assert recent.get("alice", "wonderland", "10.0.0.7") is None  # checked again after the TTL
    for i in range(3):
        recent.put(f"u{i}", "pw", "h", Principal(f"u{i}"))
    assert recent.get("u0", "pw", "h") is None and recent.get("u2", "pw", "h") == Principal("u2")  # bounded


class RefusingEverything:
    """Stands in for a throttled account: each attempt is refused at once, without a password check."""

    async def authenticate(self, user: str, password: str, peer: str) -> Principal:
        raise AuthenticationError(f"too many failed logins for user {user!r}: try again later")


async def test_a_flood_of_identical_refusals_is_audited_as_counts_not_lines(
    secured: tuple[GatewayContext, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, audit = secured
    ctx.authenticator = RefusingEverything()  # type: ignore[assignment]
    monkeypatch.setattr(login_step, "REPEAT_WINDOW_S", 0.3)
    for _ in range(500):
        with pytest.raises(AuthenticationError):
            await login_step.login(ctx, "alice", "guess", "10.0.0.7:40000", via="thrift")
    with pytest.raises(AuthenticationError):  # another client host: its own line
        await login_step.login(ctx, "alice", "guess", "10.0.0.8:40000", via="thrift")
    assert [e["client"] for e in audit] == ["10.0.0.7:40000"] * 5 + ["10.0.0.8:40000"]  # the first 5, one by one
    assert logins(ctx, "failure") == 501  # every attempt counted
    await asyncio.sleep(0.45)
    assert audit[-1]["repeated"] == 495 and audit[-1]["client"] == "10.0.0.7:40000" and audit[-1]["decision"] == "deny"
    for _ in range(8):
        with pytest.raises(AuthenticationError):
            await login_step.login(ctx, "alice", "guess", "10.0.0.7:40001", via="thrift")
    assert len(audit) == 7 + 5
    login_step.flush_refusal_repeats(ctx)  # the gateway stops before the window closes: nothing is lost
    assert audit[-1]["repeated"] == 3 and audit[-1]["client"] == "10.0.0.7"
    assert sum(e.get("repeated", 1) for e in audit) == 509  # a first line is one attempt; a repeat line, n
