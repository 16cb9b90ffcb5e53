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
from adhoc.gateway.login import Transport, login
from adhoc.http.client_address import client_peer

CHALLENGE = {"WWW-Authenticate": 'Basic realm="adhoc", charset="UTF-8"'}


def unauthorized(text: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(headers=CHALLENGE, text=text + "\n")


async def authenticate_request(ctx: GatewayContext, request: web.Request) -> Principal:
    credentials = basic_credentials(request)
    if credentials is None:
        raise unauthorized("Basic authentication required")
    return await login_basic(ctx, *credentials, peer_of(request, ctx.config.server.trusted_proxies), via="http")


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    """(user, password) from an `Authorization: Basic` header; None without one; 401 when malformed."""
    try:
        return decode_basic(request.headers.get("Authorization", ""))
    except ValueError as e:
        raise unauthorized(str(e)) from None


def decode_basic(authorization: str) -> tuple[str, str] | None:
    """(user, password) from an Authorization header's value; None when it is not Basic;
    ValueError saying what is wrong when it is malformed."""
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("malformed Basic credentials") from None
    if not sep:
        raise ValueError("malformed Basic credentials: no ':' between user and password")
    return user, password


async def login_basic(ctx: GatewayContext, user: str, password: str, peer: str, *, via: Transport) -> Principal:
    """The one login step for Basic credentials, a success remembered briefly: a browser (every asset
    of a proxied Spark UI) or Hive JDBC over HTTP (every call) sends the same credentials each time,
    and they are checked, counted and audited once."""
    host = peer.rsplit(":", 1)[0]
    known = ctx.recent_logins.get(user, password, host)
    if known is not None:
        return known
    try:
        principal = await login(ctx, user, password, peer, via=via)
    except AuthenticationError as e:
        raise unauthorized(e.message) from None
    ctx.recent_logins.put(user, password, host, principal)
    return principal


def peer_of(request: web.Request, trusted_proxies: tuple[str, ...] = ()) -> str:
    """host:port, as the Thrift side names a client (the throttle keys on the host part); behind
    a trusted proxy, the client it forwards for (see client_address.py)."""
    peername = request.transport.get_extra_info("peername") if request.transport else None
    peer = request.remote or ""
    if isinstance(peername, tuple) and len(peername) >= 2:
        peer = f"{peername[0]}:{peername[1]}"
    forwarded = ", ".join(request.headers.getall("X-Forwarded-For", [])) or None
    return client_peer(trusted_proxies, peer, forwarded)
