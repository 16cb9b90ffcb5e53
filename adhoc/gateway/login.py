"""The one login step, for every way in (SASL PLAIN or NOSASL on Thrift, Basic auth on HTTP).

    principal = await login(ctx, user, password, peer="10.0.0.7:53124", via="http")

It asks the configured authenticator (which throttles repeated failures, see adhoc.auth.throttle),
counts the outcome in `adhoc_logins{outcome}`, and writes one audit event either way. A failure
raises AuthenticationError with a message safe to show the client. Passwords are never logged.

A flood of identical refusals (same user, client host, transport and reason — a script hammering a
throttled account) is audited line by line up to REPEATS_WRITTEN per REPEAT_WINDOW_S, then as one
line carrying `"repeated": n` when the window closes: every attempt is counted, yet the audit log
grows with the number of distinct refusals, not with the attacker's request rate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Literal

from adhoc.auth import Principal
from adhoc.errors import AdhocError
from adhoc.gateway.context import GatewayContext

log = logging.getLogger("adhoc.gateway")

Transport = Literal["thrift", "thrift-http", "http"]


async def login(ctx: GatewayContext, user: str, password: str, peer: str, *, via: Transport) -> Principal:
    try:
        principal = await ctx.authenticator.authenticate(user, password, peer)
    except AdhocError as e:
        ctx.metrics.logins.labels("failure").inc()
        audit_login(ctx, user, peer, via, allowed=False, reason=e.message)
        raise
    ctx.metrics.logins.labels("success").inc()
    audit_login(ctx, principal.name, peer, via, allowed=True, reason="")
    return principal


REPEAT_WINDOW_S = 10.0
REPEATS_WRITTEN = 5  # identical refusals written one by one per window; the rest are counted


def audit_login(ctx: GatewayContext, user: str, peer: str, via: Transport, *, allowed: bool, reason: str) -> None:
    event = {"event": "login", "time": time.time(), "user": user, "client": peer, "via": via,
             "decision": "allow" if allowed else "deny", "reason": reason}  # fmt: skip
    if not allowed:
        key = (user, peer.rsplit(":", 1)[0], via, reason)
        seen = ctx.refusal_repeats.get(key)
        if seen is None:  # the first of its window
            ctx.refusal_repeats[key] = seen = [0, 0]
            asyncio.get_running_loop().call_later(REPEAT_WINDOW_S, _close_window, ctx, key, event)
        seen[0] += 1
        if seen[0] > REPEATS_WRITTEN:
            seen[1] += 1
            return
    _write(ctx, event)


def _close_window(ctx: GatewayContext, key: tuple[str, str, str, str], first: dict[str, object]) -> None:
    """Write how many identical refusals went unwritten in the window that closes."""
    _, unwritten = ctx.refusal_repeats.pop(key, [0, 0])
    if unwritten:
        _write(ctx, {**first, "time": time.time(), "repeated": unwritten})


def flush_refusal_repeats(ctx: GatewayContext) -> None:
    """The gateway stops: write the repeats still counted, so none goes unaudited."""
    for (user, host, via, reason), (_, unwritten) in list(ctx.refusal_repeats.items()):
        if unwritten:
            _write(ctx, {"event": "login", "time": time.time(), "user": user, "client": host, "via": via,
                         "decision": "deny", "reason": reason, "repeated": unwritten})  # fmt: skip
    ctx.refusal_repeats.clear()


def _write(ctx: GatewayContext, event: dict[str, object]) -> None:
    if ctx.audit is not None:
        ctx.audit(event)
    elif event["decision"] == "deny":
        log.info("login refused", extra={k: event[k] for k in ("user", "client", "via", "reason")})
