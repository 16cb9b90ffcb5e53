"""Who sent a request of the HTTP transport: the `hive.server2.auth` cookie, or HTTP Basic.

    who = auth.known(headers, peer)          # from memory, or None: then
    who = await auth.authenticate(headers, peer)   # Basic through the one login step
                                             # either raises Unauthorized (answer 401)

A Basic login (throttled, audited with `"via": "thrift-http"`) earns a cookie: `user|expires|hmac`,
HMAC-signed with a key of this process, bound to the user, expiring. A client sending it back is not
checked again, and a cookie seen once is remembered until it expires, so the per-request cost of
a known client is a dict look-up: beeline sends the cookie (and Basic) with each of the ~100k
requests of a 100k-row fetch. A forged or expired cookie without Basic is 401. With `[auth] method =
"none"` no credentials are needed: the user is Basic's if sent, else OpenSession's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from dataclasses import dataclass

from aiohttp import web

from adhoc.auth import Principal
from adhoc.gateway.context import GatewayContext
from adhoc.http.basic_auth import decode_basic, login_basic

COOKIE = "hive.server2.auth"
COOKIE_TTL_S = 3600.0
_COOKIE_PREFIX = COOKIE.encode() + b"="
_MAX_REMEMBERED = 10_000  # cookies remembered as checked; past this the memory starts over


class Unauthorized(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class Who:
    principal: Principal | None  # None: [auth] method = "none" and no Basic (OpenSession names the user)
    authorization: bytes  # the Authorization header as sent ("" without): its password, if needed
    fresh: bool = False  # Basic, not a valid cookie, said who: issue a cookie (as HiveServer2 does)

    @property
    def password(self) -> str:
        """The password sent beside (a new session's engine connection needs it), only when it is
        the password of the user this request runs as."""
        try:
            credentials = decode_basic(self.authorization.decode("latin-1"))
        except ValueError:
            return ""
        if credentials is None or (self.principal is not None and credentials[0] != self.principal.name):
            return ""
        return credentials[1]


class Cookies:
    """`user|expires|hmac`, base64url: proves a Basic login of `user` happened here lately."""

    def __init__(self, ttl_s: float = COOKIE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._key = os.urandom(32)

    def issue(self, user: str) -> str:
        payload = f"{user}|{int(time.time() + self.ttl_s)}"
        mac = hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
        return base64.urlsafe_b64encode(f"{payload}|{mac}".encode()).decode()

    def check(self, cookie: str) -> tuple[str, float] | None:
        """(user, expires) when `cookie` is one of ours and not expired."""
        try:
            user, expires, mac = base64.urlsafe_b64decode(cookie.encode()).decode().rsplit("|", 2)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        want = hmac.new(self._key, f"{user}|{expires}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, want) or not expires.isdigit() or int(expires) < time.time():
            return None
        return user, float(expires)

    def set_cookie_header(self, user: str) -> bytes:
        # HttpOnly, and not Secure: TLS ends at the ingress, and beeline never sends a Secure
        # cookie back over plain http
        return (f"Set-Cookie: {COOKIE}={self.issue(user)}; Max-Age={int(self.ttl_s)}; Path=/; HttpOnly\r\n").encode()


class HttpAuth:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.cookies = Cookies()
        self._principals: dict[str, Principal] = {}  # who each user was at their last Basic login
        self._checked: dict[bytes, tuple[str, float]] = {}  # cookie -> (user, expires), HMAC checked
        # the last request's headers (shared by requests whose heads are the same bytes), who sent
        # them (by their cookie, or Basic's name without [auth]), until when: a keep-alive client's
        # next request is known at once
        self._memo: tuple[dict[bytes, bytes], Who, float] | None = None

    def known(self, headers: dict[bytes, bytes], peer: str) -> Who | None:
        """Who sent the request, from memory only; None when a Basic login must be done."""
        memo = self._memo
        if memo is not None and memo[0] is headers and time.time() < memo[2]:
            return memo[1]  # the same head as the last request's (the reader shares it): the same cookie
        authorization = headers.get(b"authorization", b"")
        cookie = _cookie_in(headers.get(b"cookie"))
        if cookie:
            user, expires = self._cookie_user(cookie)
            principal = self._principals.get(user) if user is not None else None
            if principal is not None:
                who = Who(principal, authorization)
                self._memo = (headers, who, expires)
                return who
            if not authorization:
                raise Unauthorized("the session cookie is forged or expired")
        if not authorization:
            if self.ctx.config.auth.method == "none":
                return Who(None, b"")  # the user comes from OpenSession, as on the binary port
            raise Unauthorized("Basic authentication required")
        user, password = self._basic(authorization)
        if self.ctx.config.auth.method == "none":
            who = Who(Principal(user), authorization)
            self._memo = (headers, who, time.time() + 60.0)
            return who
        principal = self.ctx.recent_logins.get(user, password, peer.rsplit(":", 1)[0])
        if principal is None:
            return None
        self._principals[user] = principal
        self._memo = None  # the principal may have changed (groups)
        return Who(principal, authorization, fresh=True)  # checked lately; a cookie saves the next check

    async def authenticate(self, headers: dict[bytes, bytes], peer: str) -> Who:
        who = self.known(headers, peer)
        if who is not None:
            return who
        authorization = headers[b"authorization"]
        user, password = self._basic(authorization)
        try:
            principal = await login_basic(self.ctx, user, password, peer, via="thrift-http")
        except web.HTTPUnauthorized as e:
            raise Unauthorized((e.text or "authentication failed").strip()) from None
        self._principals[user] = principal
        self._memo = None  # the principal may have changed (groups)
        return Who(principal, authorization, fresh=True)

    def _cookie_user(self, cookie: bytes) -> tuple[str | None, float]:
        """(the user, when the cookie expires) when it is valid, else (None, 0)."""
        checked = self._checked.get(cookie)
        if checked is None:
            checked = self.cookies.check(cookie.decode("latin-1"))
            if checked is None:
                return None, 0.0
            if len(self._checked) >= _MAX_REMEMBERED:
                self._checked.clear()
            self._checked[cookie] = checked
        if checked[1] < time.time():
            del self._checked[cookie]
            return None, 0.0
        return checked

    @staticmethod
    def _basic(authorization: bytes) -> tuple[str, str]:
        try:
            credentials = decode_basic(authorization.decode("latin-1"))
        except ValueError as e:
            raise Unauthorized(str(e)) from None
        if credentials is None:
            raise Unauthorized("Basic authentication required")
        return credentials


def _cookie_in(header: bytes | None) -> bytes:
    """The value of our cookie in a Cookie header (b"" when absent)."""
    if not header:
        return b""
    at = header.find(_COOKIE_PREFIX)
    if at < 0 or (at > 0 and header[at - 1] not in b" ;"):
        return b""
    start = at + len(_COOKIE_PREFIX)
    end = header.find(b";", start)
    return header[start : end if end >= 0 else len(header)].strip()
