"""The authenticator a config asks for."""

from __future__ import annotations

from adhoc.auth import Authenticator, NoAuthentication
from adhoc.auth.ldap import LdapAuthenticator
from adhoc.auth.throttle import MAX_DELAY_S, Throttle
from adhoc.auth.users_file import UsersFileAuthenticator
from adhoc.config import Config


def build_authenticator(config: Config) -> Authenticator:
    auth = config.auth
    inner: Authenticator
    if auth.method == "none":
        return NoAuthentication()
    if auth.method == "file":
        inner = UsersFileAuthenticator(config.resolve(auth.users))
    else:
        inner = LdapAuthenticator(auth.ldap)
    # A wait past the handshake timeout would fail every attempt, the right password's too.
    max_delay = min(MAX_DELAY_S, config.server.handshake_timeout_s / 2)
    return Throttle(inner, max_failures=auth.max_failures, delay_s=auth.failure_delay_s, max_delay_s=max_delay)
