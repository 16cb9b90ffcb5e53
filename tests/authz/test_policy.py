"""Policy files: loading errors, grants, sessions, routes, metadata calls, hot reload, the CLI."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adhoc.auth import Principal
from adhoc.authz import SessionState
from adhoc.authz.authorizer import PolicyAuthorizer, ReloadingAuthorizer
from adhoc.authz.cli import policy_check
from adhoc.authz.policy import load_policy
from adhoc.errors import ConfigError
from tests.authz.corpus import POLICY


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "text, key, expected",
    [
        ("[[rules]]\nprincipals = ['user:a']\nread = ['nodot']", "rules[0].read", "expected a db.table glob"),
        ("[[rules]]\nprincipals = ['alice']", "rules[0].principals", 'expected "user:NAME"'),
        ("[[rules]]\nprincipals = ['*']\nroutes = ['mars']", "rules[0].routes", "unknown route 'mars'"),
        ("[[rules]]\nprincipals = ['*']\nmax_sessions = -1", "rules[0].max_sessions", "whole number"),
        ("[[rules]]\nprincipals = ['*']\nadmn = true", "rules[0].admn", "unknown key"),
        ("[[rules]]\nread = ['a.b']", "rules[0].principals", "needs principals"),
        ("[groups]\nx = 'alice'", "groups.x", "list of user names"),
        ("rules = 3", "rules", "expected [[rules]]"),
        ("[[rules]\n", "", "not valid TOML"),
    ],
)
def test_loading_errors_name_file_and_key(tmp_path: Path, text: str, key: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_policy(path, ["sts-test"])
    assert path in err.value.message and key in err.value.message and expected in err.value.message


def test_grants_union_and_user_expansion(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, POLICY + '\n[[rules]]\nprincipals = ["*"]\nread = ["public.*"]\n'))
    bob = PolicyAuthorizer(policy)
    state = SessionState()
    assert bob.check_statement(Principal("bob"), "INSERT INTO scratch_bob.t SELECT * FROM public.x", state).allowed
    assert not bob.check_statement(Principal("bob"), "INSERT INTO scratch_alice.t SELECT 1", state).allowed
    # LDAP groups count like [groups]
    assert bob.check_statement(Principal("dave", frozenset({"analysts"})), "SELECT * FROM sales.x", state).allowed
    assert not bob.check_statement(Principal("dave"), "SELECT * FROM sales.x", state).allowed


def test_sessions_and_routes(tmp_path: Path) -> None:
    authz = PolicyAuthorizer(load_policy(write(tmp_path, POLICY), ["sts-test"]))
    alice = Principal("alice")
    assert authz.check_session(alice, 1, None).allowed
    refused = authz.check_session(alice, 2, None)
    assert not refused.allowed and "max_sessions = 2" in refused.reason
    assert authz.allows_engine(alice, "sts-test", "local")
    assert not authz.allows_engine(alice, "yarn-main", "yarn")
    assert authz.allows_engine(Principal("carol"), "yarn-main", "yarn")  # admin
    assert not authz.check_session(Principal("mallory"), 0, None).allowed


def test_metadata_calls(tmp_path: Path) -> None:
    authz = PolicyAuthorizer(load_policy(write(tmp_path, POLICY)))
    alice = Principal("alice")
    assert authz.check_metadata(alice, "GetColumns", "sales", "orders").allowed
    assert authz.check_metadata(alice, "GetColumns", "sales", "%").allowed
    assert not authz.check_metadata(alice, "GetColumns", "hr", "salaries").allowed
    assert not authz.check_metadata(alice, "GetColumns", "%", "%").allowed
    assert not authz.check_metadata(alice, "GetColumns", "default", "%").allowed  # only default.events
    assert authz.check_metadata(alice, "GetTables", "hr", "%").allowed  # names only
    assert not authz.check_metadata(Principal("mallory"), "GetTables", None, None).allowed


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_hot_reload_keeps_the_last_good_policy(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, POLICY)
    clock = Clock()
    authz = ReloadingAuthorizer(path, ["sts-test"], interval_s=2, clock=clock)
    alice, state = Principal("alice"), SessionState()
    assert not authz.check_statement(alice, "SELECT * FROM hr.salaries", state).allowed
    time.sleep(0.01)
    Path(path).write_text(POLICY.replace('"sales.*"', '"sales.*", "hr.*"'))
    assert not authz.check_statement(alice, "SELECT * FROM hr.salaries", state).allowed  # not checked yet
    clock.now = 3
    assert authz.check_statement(alice, "SELECT * FROM hr.salaries", state).allowed
    Path(path).write_text("[[rules]]\nprincipals = 'broken'\n")
    clock.now = 6
    assert authz.check_statement(alice, "SELECT * FROM hr.salaries", state).allowed  # old policy kept
    assert "policy reload failed" in caplog.text


def test_policy_check_cli(tmp_path: Path) -> None:
    policy = write(tmp_path, POLICY)
    config = write(tmp_path, f'[policy]\nfile = "{Path(policy).name}"\n', "adhoc.toml")
    out = io.StringIO()
    assert policy_check(config, "alice", "SELECT * FROM sales.o; SELECT * FROM hr.s", None, out) == 1
    assert out.getvalue().splitlines() == [
        "ALLOW",
        "DENY: permission denied: alice may not read hr.s (no rule in policy.toml grants read on it)",
    ]
    sql_file = tmp_path / "q.sql"
    sql_file.write_text("USE sales;\nSELECT * FROM orders;\n")
    run = [sys.executable, "-m", "adhoc", "policy", "check", "--config", config, "--user", "alice"]
    ok = subprocess.run([*run, "--file", str(sql_file)], capture_output=True, text=True)
    assert (ok.returncode, ok.stdout) == (0, "ALLOW\nALLOW\n")
    broken = write(tmp_path, "[policy]\nfile = 'missing.toml'\n", "broken.toml")
    bad = subprocess.run([sys.executable, "-m", "adhoc", "policy", "check", "--config", broken, "--user", "a",
                          "--sql", "SELECT 1"], capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "missing.toml" in bad.stderr
    usage = subprocess.run([*run], capture_output=True, text=True)
    assert usage.returncode == 2
