"""Who is connecting: authenticators behind one small interface.

    authenticator = build_authenticator(config)
    principal = await authenticator.authenticate(user, password, peer="10.0.0.7")

A failure raises adhoc.errors.AuthenticationError with a message safe to show the client.
Passwords are never logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Principal:
    """An authenticated user and the groups a directory (LDAP) reports for them."""

    name: str
    groups: frozenset[str] = field(default_factory=frozenset)


class Authenticator(Protocol):
    async def authenticate(self, user: str, password: str, peer: str) -> Principal: ...


class NoAuthentication:
    """auth.method = "none": trust the user name the client sends (the embedded default)."""

    async def authenticate(self, user: str, password: str, peer: str) -> Principal:
        return Principal(user or "anonymous")
