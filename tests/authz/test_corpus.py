"""The adversarial corpus against the policy, and against the real Spark parser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyhive import hive

from adhoc.auth import Principal
from adhoc.authz import Decision, SessionState
from adhoc.authz.authorizer import PolicyAuthorizer
from adhoc.authz.policy import load_policy
from tests.authz.corpus import ALLOWED, DENIED, NOT_SPARK_SQL, POLICY
from tests.sts import RunningSTS

ALICE = Principal("alice")


@pytest.fixture(scope="module")
def authorizer(tmp_path_factory: pytest.TempPathFactory) -> PolicyAuthorizer:
    path = Path(tmp_path_factory.mktemp("policy")) / "policy.toml"
    path.write_text(POLICY)
    return PolicyAuthorizer(load_policy(str(path), ["sts-test"]))


@pytest.mark.parametrize("sql", ALLOWED)
def test_analyst_statements_are_allowed(authorizer: PolicyAuthorizer, sql: str) -> None:
    decision = authorizer.check_statement(ALICE, sql, SessionState())
    assert decision.allowed, decision.reason


@pytest.mark.parametrize("sql, reason", DENIED)
def test_adversarial_statements_are_denied(authorizer: PolicyAuthorizer, sql: str, reason: str) -> None:
    decision = authorizer.check_statement(ALICE, sql, SessionState())
    assert not decision.allowed
    assert reason.lower() in decision.reason.lower()
    assert decision.reason.startswith("permission denied: ")


@pytest.mark.parametrize("sql", [s for s, _ in DENIED if "reflect" in s or "ADD" in s.upper()[:4]])
def test_admins_may_do_anything(authorizer: PolicyAuthorizer, sql: str) -> None:
    assert authorizer.check_statement(Principal("carol"), sql, SessionState()).allowed


def test_users_no_rule_names_may_do_nothing(authorizer: PolicyAuthorizer) -> None:
    decision = authorizer.check_statement(Principal("mallory"), "SELECT 1", SessionState())
    assert not decision.allowed and "no rule in policy.toml grants anything to mallory" in decision.reason


def test_session_state_follows_use_and_temp_views(authorizer: PolicyAuthorizer) -> None:
    state = SessionState()

    def run(sql: str) -> Decision:  # as the gateway does: the state moves once the engine ran it
        decision = authorizer.check_statement(ALICE, sql, state)
        if decision.allowed and decision.change is not None:
            decision.change.apply(state)
        return decision

    use = authorizer.check_statement(ALICE, "USE sales", state)
    assert use.allowed and state.current_db == "default"  # not before the engine has run it
    assert run("USE sales").allowed
    assert run("SELECT * FROM orders").tables_read == ("sales.orders",)
    # a temp view is not a table: its definition is checked when it is created
    assert run("CREATE TEMP VIEW hr_copy AS SELECT * FROM orders").allowed
    assert run("SELECT * FROM hr_copy").allowed
    assert run("DROP VIEW hr_copy").allowed
    assert run("SELECT * FROM hr_copy").tables_read == ("sales.hr_copy",)
    # a refused USE changes nothing
    assert not run("USE hr; SELECT * FROM salaries").allowed
    assert state.current_db == "sales"


case_flips = st.lists(st.booleans(), min_size=40, max_size=40)


def _recase(sql: str, flips: list[bool]) -> str:
    out, i = [], 0
    for ch in sql:
        out.append(ch.swapcase() if ch.isalpha() and flips[i % len(flips)] else ch)
        i += ch.isalpha()
    return (out and "".join(out)) or sql


@given(case_flips, st.sampled_from([s for s, _ in DENIED if "'" not in s and "`" not in s]))
def test_case_never_changes_a_denial(flips: list[bool], sql: str) -> None:
    path_policy = PolicyAuthorizer(load_policy(_POLICY_FILE, ["sts-test"]))
    assert not path_policy.check_statement(ALICE, _recase(sql, flips), SessionState()).allowed


@given(st.sampled_from(["", "  ", "\n", "/* c */ ", "-- c\n"]), st.sampled_from([s for s, _ in DENIED]))
def test_comments_and_whitespace_never_change_a_denial(prefix: str, sql: str) -> None:
    path_policy = PolicyAuthorizer(load_policy(_POLICY_FILE, ["sts-test"]))
    assert not path_policy.check_statement(ALICE, prefix + sql + " ;", SessionState()).allowed


_POLICY_FILE = str(Path(__file__).with_name("policy.generated.toml"))


@pytest.fixture(autouse=True, scope="module")
def _policy_file() -> Iterator[None]:
    Path(_POLICY_FILE).write_text(POLICY)
    yield
    Path(_POLICY_FILE).unlink(missing_ok=True)


@pytest.fixture(scope="module")
def spark(sts: RunningSTS) -> Iterator[hive.Cursor]:
    conn = hive.connect(sts.host, port=sts.port, username="corpus")
    yield conn.cursor()
    conn.close()


def _spark_parses(cursor: hive.Cursor, sql: str) -> bool:
    """EXPLAIN parses the statement without running it; analysis errors still mean it parsed."""
    statement = sql if sql.upper().startswith("EXPLAIN") else f"EXPLAIN {sql}"
    try:
        cursor.execute(statement)
        cursor.fetchall()
    except Exception as e:
        text = str(e)
        return "PARSE_SYNTAX_ERROR" not in text and "ParseException" not in text
    return True


@pytest.mark.parametrize("sql", [s for s in ALLOWED if ";" not in s] + [s for s, _ in DENIED if ";" not in s])
def test_corpus_statements_are_real_spark_sql(spark: hive.Cursor, sql: str) -> None:
    assert _spark_parses(spark, sql) == (sql not in NOT_SPARK_SQL)
