"""auth.method = "file": users and their password hashes in a TOML file.

    [users.alice]
    password = "scrypt$16384$8$1$...$..."     # written by `adhoc passwd --users FILE alice`
    groups = ["analysts"]                       # optional, usable as group:analysts in policy

The file is re-read when it changes, so `adhoc passwd` takes effect without a restart.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from adhoc.auth import Principal
from adhoc.auth.passwords import dummy_hash, verify_password
from adhoc.config import read_toml
from adhoc.errors import AuthenticationError, ConfigError


@dataclass(frozen=True)
class UserEntry:
    password: str
    groups: frozenset[str]


def read_users(path: str) -> dict[str, UserEntry]:
    raw = read_toml(path, "users file", key="auth.users")
    users = raw.get("users", {})
    if not isinstance(users, dict):
        raise ConfigError("expected [users.NAME] tables", file=path, key="users")
    out: dict[str, UserEntry] = {}
    for name, entry in users.items():
        password = entry.get("password") if isinstance(entry, dict) else None
        groups = entry.get("groups", []) if isinstance(entry, dict) else None
        if not isinstance(password, str) or not isinstance(groups, list):
            raise ConfigError("expected password = \"scrypt$...\" and optional groups = [...]", file=path,
                              key=f"users.{name}")  # fmt: skip
        out[name] = UserEntry(password, frozenset(str(g) for g in groups))
    return out


class UsersFileAuthenticator:
    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._users: dict[str, UserEntry] = {}
        self._reload()

    def _reload(self) -> None:
        st = os.stat(self.path) if os.path.exists(self.path) else None
        stamp = (st.st_mtime, st.st_size) if st else None
        if stamp != self._stamp or stamp is None:
            self._users = read_users(self.path)
            self._stamp = stamp

    async def authenticate(self, user: str, password: str, peer: str) -> Principal:
        try:
            self._reload()
        except ConfigError:
            pass  # a half-written or broken file: keep the users we had
        entry = self._users.get(user)
        # scrypt is slow on purpose: off the event loop
        ok = await asyncio.to_thread(verify_password, password, entry.password if entry else dummy_hash())
        if not ok or entry is None or not password:
            raise AuthenticationError(f"authentication failed for user {user!r}")
        return Principal(user, entry.groups)
