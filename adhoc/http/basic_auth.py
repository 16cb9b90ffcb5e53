"""HTTP Basic authentication, through the same login step as Thrift (throttle, metrics, audit).

    principal = await authenticate_request(ctx, request)   # or 401 with a Basic challenge

A success is remembered for a minute (adhoc.auth.recent), so a page's many requests cost one
password check and one audit line.
"""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from adhoc.auth import Principal
from adhoc.errors import AuthenticationError
from adhoc.gateway.context import GatewayContext
from adhoc.gateway.login import login

CHALLENGE = {"WWW-Authenticate": 'Basic realm="adhoc", charset="UTF-8"'}


def unauthorized(text: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(headers=CHALLENGE, text=text + "\n")


async def authenticate_request(ctx: GatewayContext, request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic":
        raise unauthorized("Basic authentication required")
    try:
        user, sep, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise unauthorized("malformed Basic credentials") from None
    if not sep:
        raise unauthorized("malformed Basic credentials: no ':' between user and password")
    peer = _peer(request)
    host = peer.rsplit(":", 1)[0]
    # A browser sends the same credentials with every request (each asset of a proxied Spark UI):
    # a success is checked, counted and audited once, then remembered briefly.
    known = ctx.recent_logins.get(user, password, host)
    if known is not None:
        return known
    try:
        principal = await login(ctx, user, password, peer, via="http")
    except AuthenticationError as e:
        raise unauthorized(e.message) from None
    ctx.recent_logins.put(user, password, host, principal)
    return principal


def _peer(request: web.Request) -> str:
    """host:port, as the Thrift side names a client (the throttle keys on the host part)."""
    peername = request.transport.get_extra_info("peername") if request.transport else None
    if isinstance(peername, tuple) and len(peername) >= 2:
        return f"{peername[0]}:{peername[1]}"
    return request.remote or ""
