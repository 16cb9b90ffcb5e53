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


CONF_POLICY = """
[[rules]]
principals = ["user:alice", "user:bob"]
read = ["sales.*"]
[[rules]]
principals = ["user:bob"]
conf = {"spark.executor.memory" = "<=32g", "kyuubi.engine.share.level" = ["CONNECTION", "USER"]}
[[rules]]
principals = ["user:carol"]
admin = true
"""


def test_launch_time_settings_need_the_policys_conf(tmp_path: Path) -> None:
    authz = PolicyAuthorizer(load_policy(write(tmp_path, CONF_POLICY)))
    alice, bob, carol = Principal("alice"), Principal("bob"), Principal("carol")

    def why(who: Principal, sql: str) -> str:
        decision = authz.check_statement(who, sql, SessionState())
        return "ALLOW" if decision.allowed else decision.reason

    assert why(alice, "SET spark.executor.memory=8g") == "ALLOW"  # the built-in default: <=8g
    assert why(alice, "SET spark.executor.memory=64g") == (
        "permission denied: alice may not SET spark.executor.memory=64g: the policy allows spark.executor.memory "
        "at most 8g"
    )
    assert why(bob, "SET spark.executor.memory = `32g`") == "ALLOW"  # his rule's bound adds to the default
    assert "shapes the engine" in why(alice, "SET kyuubi.engine.share.level=USER")
    assert why(bob, "SET kyuubi.engine.share.level=USER") == "ALLOW"
    assert "one of connection, user" in why(bob, "SET kyuubi.engine.share.level=SERVER")
    assert why(carol, "SET spark.executor.memory=64g") == "ALLOW"
    assert authz.check_conf(bob, {"set:hiveconf:spark.executor.memory": "33g"}, "session conf") is not None
    assert authz.check_conf(bob, {"set:hiveconf:spark.executor.memory": "32g"}, "session conf") is None


def test_a_top_level_conf_table_replaces_the_default(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, '[conf]\n"spark.executor.cores" = "<=2"\n' + CONF_POLICY))
    authz = PolicyAuthorizer(policy)
    alice = Principal("alice")
    assert not authz.check_statement(alice, "SET spark.executor.memory=1g", SessionState()).allowed
    assert authz.check_statement(alice, "SET spark.executor.cores=2", SessionState()).allowed
    assert "at most 2" in authz.check_statement(alice, "SET spark.executor.cores=3", SessionState()).reason


@pytest.mark.parametrize(
    ("conf", "key", "message"),
    [('{"spark.executor.memory" = "lots"}', "rules[0].conf.spark.executor.memory", "expected"),
     ('{"spark.executor.memory" = "<=8x"}', "rules[0].conf.spark.executor.memory", "size like 8g"),
     ('{"spark.kubernetes.container.image" = "*"}', "rules[0].conf.spark.kubernetes.container.image",
      "not a setting a policy can open"),
     ('{"spark.sql.legacy.notReserveProperties" = "*"}', "rules[0].conf.spark.sql.legacy.notReserveProperties",
      "not a setting a policy can open"),
     ('{"spark.sql.shuffle.partitions" = "<=8"}', "rules[0].conf.spark.sql.shuffle.partitions",
      "not a launch-time setting"),
     ('{"spark.executor.memory" = []}', "rules[0].conf.spark.executor.memory", "non-empty list"),
     ('"spark.executor.memory"', "rules[0].conf", "expected a table")],
)  # fmt: skip
def test_a_bad_conf_entry_is_a_clear_error_naming_the_key(tmp_path: Path, conf: str, key: str, message: str) -> None:
    path = write(tmp_path, f'[[rules]]\nprincipals = ["*"]\nconf = {conf}\n')
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    assert err.value.key == key and message in err.value.message, err.value.message


def test_policy_check_shows_why_a_launch_time_setting_is_denied(tmp_path: Path) -> None:
    policy = write(tmp_path, CONF_POLICY)
    config = write(tmp_path, f'[policy]\nfile = "{Path(policy).name}"\n', "adhoc.toml")
    run = subprocess.run([sys.executable, "-m", "adhoc", "policy", "check", "--config", config, "--user", "alice",
                          "--sql", "SET spark.executor.memory=64g; SET spark.sql.legacy.notReserveProperties=true; "
                          "SET spark.executor.memory=2g"], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert run.stdout.splitlines() == [
        "DENY: permission denied: alice may not SET spark.executor.memory=64g: the policy allows "
        "spark.executor.memory at most 8g",
        "DENY: permission denied: alice may not SET spark.sql.legacy.notReserveProperties: it changes how "
        "statements are read (what a name resolves to, what a statement reads or writes)",
        "ALLOW",
    ]
