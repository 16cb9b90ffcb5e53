"""The one login step, for every way in (SASL PLAIN or NOSASL on Thrift, Basic auth on HTTP).

    principal = await login(ctx, user, password, peer="10.0.0.7:53124", via="http")

It asks the configured authenticator (which throttles repeated failures, see adhoc.auth.throttle),
counts the outcome in `adhoc_logins{outcome}`, and writes one audit event either way. A failure
raises AuthenticationError with a message safe to show the client. Passwords are never logged.
"""

from __future__ import annotations

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


def audit_login(ctx: GatewayContext, user: str, peer: str, via: Transport, *, allowed: bool, reason: str) -> None:
    event = {"event": "login", "time": time.time(), "user": user, "client": peer, "via": via,
             "decision": "allow" if allowed else "deny", "reason": reason}  # fmt: skip
    if ctx.audit is not None:
        ctx.audit(event)
    elif not allowed:
        log.info("login refused", extra={"user": user, "client": peer, "via": via, "reason": reason})
