"""auth.method = "ldap": bind as the user (DN template, or search-then-bind with a service account).

User input never reaches a filter or a DN unescaped. An empty password is refused before any bind:
LDAP servers treat a simple bind with no password as an anonymous bind, which "succeeds".
Groups come from a search under group_search_base and are usable as group:NAME in policy.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from adhoc.auth import Principal
from adhoc.config import LdapConfig
from adhoc.errors import AuthenticationError, ConfigError

log = logging.getLogger("adhoc.auth")


class LdapAuthenticator:
    def __init__(self, config: LdapConfig, env: dict[str, str] | None = None) -> None:
        if not config.url:
            raise ConfigError("auth.method = 'ldap' needs a url", key="auth.ldap.url")
        if not config.user_dn_template and not (config.bind_dn and config.search_base):
            raise ConfigError("set user_dn_template, or bind_dn and search_base", key="auth.ldap")
        self.config = config
        environ = os.environ if env is None else env
        self._bind_password = environ.get(config.bind_password_env, "") if config.bind_password_env else ""
        self._server = ldap3.Server(config.url, connect_timeout=config.timeout_s, get_info=ldap3.NONE)

    async def authenticate(self, user: str, password: str, peer: str) -> Principal:
        if not user or not password:
            raise AuthenticationError(f"authentication failed for user {user!r}")
        return await asyncio.to_thread(self._authenticate, user, password)

    def _connection(self, dn: str | None, password: str | None) -> ldap3.Connection:
        return ldap3.Connection(
            self._server,
            user=dn,
            password=password,
            receive_timeout=max(1, math.ceil(self.config.timeout_s)),
            raise_exceptions=False,
        )

    def _authenticate(self, user: str, password: str) -> Principal:
        try:
            dn = self._user_dn(user)
            conn = self._connection(dn, password) if dn else None
            if conn is None or not conn.bind():
                raise AuthenticationError(f"authentication failed for user {user!r}")
            try:
                groups = self._groups(conn, dn or "", user)
            finally:
                conn.unbind()
        except LDAPException as e:
            log.warning("directory unreachable", extra={"url": self.config.url, "error": str(e)})
            raise AuthenticationError("the directory (LDAP) is unreachable; try again later") from None
        return Principal(user, groups)

    def _user_dn(self, user: str) -> str | None:
        config = self.config
        if config.user_dn_template:
            return config.user_dn_template.format(user=escape_rdn(user))
        service = self._connection(config.bind_dn, self._bind_password)
        if not service.bind():
            log.error("LDAP service account bind failed", extra={"bind_dn": config.bind_dn})
            raise AuthenticationError("the directory refused the gateway's service account")
        try:
            search = config.search_filter.format(user=escape_filter_chars(user))
            service.search(config.search_base, search, attributes=[], size_limit=2)
            entries = list(service.entries)
        finally:
            service.unbind()
        return str(entries[0].entry_dn) if len(entries) == 1 else None

    def _groups(self, conn: ldap3.Connection, dn: str, user: str) -> frozenset[str]:
        config = self.config
        if not config.group_search_base:
            return frozenset()
        search = config.group_filter.format(dn=escape_filter_chars(dn), user=escape_filter_chars(user))
        conn.search(config.group_search_base, search, attributes=[config.group_name_attr])
        names: set[str] = set()
        for entry in conn.entries:
            values = entry.entry_attributes_as_dict.get(config.group_name_attr, [])
            names.update(str(v) for v in values)
        return frozenset(names)
