"""Users file, LDAP (a real slapd) and the failure throttle."""

from __future__ import annotations

import io
import os
import stat
import time
from pathlib import Path

import pytest

from adhoc.auth.ldap import LdapAuthenticator
from adhoc.auth.passwd import passwd_main
from adhoc.auth.throttle import Throttle
from adhoc.auth.users_file import UsersFileAuthenticator
from adhoc.config import LdapConfig
from adhoc.errors import AuthenticationError, ConfigError
from tests.ldap_server import BASE, SERVICE_DN, SERVICE_PASSWORD, RunningLdap
from tests.sts import free_port


def set_password(path: Path, user: str, password: str) -> int:
    return passwd_main(str(path), user, stdin=io.StringIO(password + "\n"), stderr=io.StringIO())


async def test_users_file_round_trip(tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    assert set_password(users, "alice", "s3cret") == 0
    assert set_password(users, "bob", "hunter2") == 0
    assert stat.S_IMODE(os.stat(users).st_mode) == 0o600
    assert "s3cret" not in users.read_text() and "scrypt$" in users.read_text()
    auth = UsersFileAuthenticator(str(users))
    assert (await auth.authenticate("alice", "s3cret", "1.2.3.4:5")).name == "alice"
    for user, password in (("alice", "wrong"), ("mallory", "s3cret"), ("alice", "")):
        with pytest.raises(AuthenticationError, match="authentication failed"):
            await auth.authenticate(user, password, "1.2.3.4:5")
    # a password change takes effect without a restart, and keeps the other users
    time.sleep(0.01)
    assert set_password(users, "alice", "n3w") == 0
    assert (await auth.authenticate("alice", "n3w", "p")).name == "alice"
    assert (await auth.authenticate("bob", "hunter2", "p")).name == "bob"


async def test_users_file_groups(tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    set_password(users, "dave", "pw")
    users.write_text(users.read_text().replace('password = "', 'groups = ["analysts"]\npassword = "'))
    principal = await UsersFileAuthenticator(str(users)).authenticate("dave", "pw", "p")
    assert principal.groups == frozenset({"analysts"})


def test_passwd_refuses_empty_password(tmp_path: Path) -> None:
    err = io.StringIO()
    assert passwd_main(str(tmp_path / "u.toml"), "x", stdin=io.StringIO("\n"), stderr=err) == 2
    assert "empty password" in err.getvalue()


def test_missing_users_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"auth\.users"):
        UsersFileAuthenticator(str(tmp_path / "nope.toml"))


def direct(server: RunningLdap, **kw: object) -> LdapAuthenticator:
    config = LdapConfig(url=server.url, user_dn_template=f"uid={{user}},ou=people,{BASE}",
                        group_search_base=f"ou=groups,{BASE}", group_filter="(member={dn})", **kw)  # type: ignore[arg-type]  # fmt: skip
    return LdapAuthenticator(config)


async def test_ldap_direct_bind_with_groups(ldap_server: RunningLdap) -> None:
    auth = direct(ldap_server)
    principal = await auth.authenticate("alice", "alice-pw", "p")
    assert principal.name == "alice" and principal.groups == frozenset({"analysts"})
    assert (await auth.authenticate("carol", "carol-pw", "p")).groups == frozenset({"admins"})


@pytest.mark.parametrize("user, password", [("alice", "wrong"), ("nobody", "x"), ("alice", ""), ("*", "alice-pw")])
async def test_ldap_refusals(ldap_server: RunningLdap, user: str, password: str) -> None:
    with pytest.raises(AuthenticationError, match="authentication failed"):
        await direct(ldap_server).authenticate(user, password, "p")


async def test_ldap_search_then_bind(ldap_server: RunningLdap) -> None:
    config = LdapConfig(url=ldap_server.url, bind_dn=SERVICE_DN, bind_password_env="SVC_PW",
                        search_base=f"ou=people,{BASE}", search_filter="(uid={user})")  # fmt: skip
    auth = LdapAuthenticator(config, env={"SVC_PW": SERVICE_PASSWORD})
    assert (await auth.authenticate("bob", "bob-pw", "p")).name == "bob"
    with pytest.raises(AuthenticationError):
        await auth.authenticate("bob", "alice-pw", "p")
    with pytest.raises(AuthenticationError):  # filter injection must not match every entry
        await auth.authenticate("*)(uid=*", "bob-pw", "p")


async def test_ldap_down_is_a_clear_error_not_a_hang() -> None:
    auth = LdapAuthenticator(
        LdapConfig(url=f"ldap://127.0.0.1:{free_port()}", user_dn_template="uid={user}", timeout_s=2)
    )
    started = time.monotonic()
    with pytest.raises(AuthenticationError, match="unreachable"):
        await auth.authenticate("alice", "alice-pw", "p")
    assert time.monotonic() - started < 5


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Fixed:
    async def authenticate(self, user: str, password: str, peer: str) -> object:
        if password != "right":
            raise AuthenticationError("authentication failed")
        from adhoc.auth import Principal

        return Principal(user)


async def test_throttle_slows_repeated_failures_and_resets() -> None:
    clock = Clock()
    throttle = Throttle(Fixed(), max_failures=3, delay_s=1.0, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    for _ in range(6):
        with pytest.raises(AuthenticationError):
            await throttle.authenticate("alice", "wrong", "10.0.0.1:1")
    assert clock.slept == [1.0, 2.0, 4.0]
    # another user from the same address is slowed down too, by at most 5 s (tests/auth/test_throttle.py)
    with pytest.raises(AuthenticationError):
        await throttle.authenticate("bob", "wrong", "10.0.0.1:2")
    assert clock.slept[-1] == 5.0
    clock.now += 10_000  # old failures are forgotten
    await throttle.authenticate("alice", "right", "10.0.0.1:3")
    assert clock.slept[-1] == 5.0
