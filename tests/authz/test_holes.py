"""The holes found from outside (issue 8), as the analyser and policy decide them: each a class.

alice reads sales.* (and default.events), writes scratch_alice.*; carol is an admin.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from adhoc.auth import Principal
from adhoc.authz import Decision, SessionState
from adhoc.authz.authorizer import PolicyAuthorizer
from adhoc.authz.policy import load_policy
from tests.authz.corpus import POLICY

ALICE, CAROL = Principal("alice"), Principal("carol")


@pytest.fixture(scope="module")
def authorizer(tmp_path_factory: pytest.TempPathFactory) -> PolicyAuthorizer:
    path = Path(tmp_path_factory.mktemp("policy")) / "policy.toml"
    path.write_text(POLICY)
    return PolicyAuthorizer(load_policy(str(path), ["sts-test"]))


def run(authorizer: PolicyAuthorizer, sql: str, state: SessionState, who: Principal = ALICE) -> Decision:
    """As the gateway does: the session follows an allowed statement once the engine ran it."""
    decision = authorizer.check_statement(who, sql, state)
    if decision.allowed and decision.change is not None:
        decision.change.apply(state)
    return decision


SCRIPT_TRANSFORMS = [
    "SELECT TRANSFORM(id) USING 'cat' FROM sales.orders",
    "SELECT TRANSFORM(id) USING 'cat' AS (x) FROM sales.orders",
    "select transform(*) using \"/bin/sh -c 'id'\" from sales.orders",
    "SELECT TRANSFORM(id) USING r'cat' FROM sales.orders",
    "FROM sales.orders SELECT TRANSFORM(id) USING 'cat'",
    "FROM sales.orders MAP id USING 'cat'",
    "FROM sales.orders REDUCE id USING 'cat' AS (x)",
    "FROM (FROM sales.orders MAP id USING 'cat' AS k) t REDUCE k USING 'wc -l'",
    "INSERT INTO scratch_alice.t SELECT TRANSFORM(id) USING /* hi */ 'cat' FROM sales.orders",
    "CREATE VIEW scratch_alice.v AS SELECT TRANSFORM(id) USING 'cat' FROM sales.orders",
    "CACHE TABLE c AS SELECT TRANSFORM(id) USING 'cat' FROM sales.orders",
    "WITH x AS (SELECT TRANSFORM(id) USING 'cat' FROM sales.orders) SELECT * FROM x",
]


@pytest.mark.parametrize("sql", SCRIPT_TRANSFORMS)
def test_script_transforms_are_always_denied(authorizer: PolicyAuthorizer, sql: str) -> None:
    decision = authorizer.check_statement(ALICE, sql, SessionState())
    assert not decision.allowed
    assert "script transform" in decision.reason and "not allowed for non-admin users" in decision.reason


def test_the_higher_order_transform_function_is_not_a_script(authorizer: PolicyAuthorizer) -> None:
    assert authorizer.check_statement(ALICE, "SELECT transform(array(1, 2), x -> x + 1)", SessionState()).allowed
    assert authorizer.check_statement(CAROL, SCRIPT_TRANSFORMS[0], SessionState()).allowed


# Every position a table name takes, with IDENTIFIER('...'): {} is the name.
NAME_POSITIONS = [
    ("INSERT INTO {} SELECT 1", "write"),
    ("INSERT INTO TABLE {} VALUES (1)", "write"),
    ("INSERT OVERWRITE {} SELECT 1", "write"),
    ("INSERT OVERWRITE TABLE {} SELECT 1", "write"),
    ("TRUNCATE TABLE {}", "write"),
    ("ALTER TABLE {} SET TBLPROPERTIES ('a' = 'b')", "write"),
    ("ALTER TABLE {} ADD COLUMNS (x INT)", "write"),
    ("ALTER TABLE {} DROP COLUMN x", "write"),
    ("ALTER TABLE {} RENAME COLUMN a TO b", "write"),
    ("ALTER VIEW {} AS SELECT 1", "write"),
    ("ALTER VIEW {} SET TBLPROPERTIES ('a' = 'b')", "write"),
    ("CREATE TABLE {} AS SELECT 1", "write"),
    ("CREATE TABLE {} (id INT) USING parquet", "write"),
    ("CREATE OR REPLACE VIEW {} AS SELECT 1", "write"),
    ("CREATE VIEW {} AS SELECT 1", "write"),
    ("DROP TABLE {}", "write"),
    ("DROP TABLE IF EXISTS {}", "write"),
    ("DROP VIEW {}", "write"),
    ("MSCK REPAIR TABLE {}", "write"),
    ("ALTER TABLE {} RECOVER PARTITIONS", "write"),
    ("ANALYZE TABLE {} COMPUTE STATISTICS", "write"),
    ("COMMENT ON TABLE {} IS 'x'", "write"),
    ("DELETE FROM {} WHERE id = 1", "write"),
    ("UPDATE {} SET id = 1", "write"),
    ("DESCRIBE {}", "read"),
    ("DESC EXTENDED {}", "read"),
    ("DESCRIBE {} id", "read"),
    ("DESC TABLE FORMATTED {} id", "read"),
    ("DESCRIBE TABLE EXTENDED {}", "read"),
    ("SHOW TBLPROPERTIES {}", "read"),
    ("SHOW PARTITIONS {}", "read"),
    ("SHOW COLUMNS IN {}", "read"),
    ("SHOW CREATE TABLE {}", "read"),
    ("CACHE TABLE {}", "read"),
    ("CACHE LAZY TABLE {}", "read"),
    ("UNCACHE TABLE {}", "read"),
    ("UNCACHE TABLE IF EXISTS {}", "read"),
    ("REFRESH TABLE {}", "read"),
    ("SELECT * FROM {}", "read"),
    ("TABLE {}", "read"),
    ("EXPLAIN SELECT * FROM {}", "read"),
    ("SELECT * FROM sales.orders o JOIN {} h ON o.id = h.id", "read"),
]
IDENTIFIER_FORMS = ["IDENTIFIER('{db}.t')", "identifier ( '{db}.t' )", 'IDENTIFIER("{db}.t")',
                    "IDENTIFIER('`{db}`.`t`')", "IDENTIFIER('spark_catalog.{db}.t')",
                    "IDENTIFIER('{DB}.T')"]  # fmt: skip


@pytest.mark.parametrize("form", IDENTIFIER_FORMS)
@pytest.mark.parametrize(("template", "direction"), NAME_POSITIONS)
def test_identifier_is_resolved_in_every_position(
    authorizer: PolicyAuthorizer, template: str, direction: str, form: str
) -> None:
    mine = template.format(form.format(db="scratch_alice", DB="SCRATCH_ALICE"))
    theirs = template.format(form.format(db="hr", DB="HR"))
    allowed = authorizer.check_statement(ALICE, mine, SessionState())
    assert allowed.allowed, allowed.reason
    assert "scratch_alice.t" in allowed.tables_read + allowed.tables_written
    denied = authorizer.check_statement(ALICE, theirs, SessionState())
    assert not denied.allowed
    assert f"alice may not {direction} hr.t" in denied.reason or "alice may not write hr.t" in denied.reason
    assert "identifier" not in denied.reason.lower()


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO IDENTIFIER('hr' || '.t') SELECT 1",
        "SELECT * FROM IDENTIFIER(concat('hr', '.t'))",
        "TRUNCATE TABLE IDENTIFIER(:name)",
        "SHOW TBLPROPERTIES IDENTIFIER('hr.' 't')",
        "DESCRIBE IDENTIFIER('hr.t; x')",
        "SELECT * FROM IDENTIFIER('a.b.c.d')",
        "SELECT * FROM IDENTIFIER('other.hr.t')",
    ],
)
def test_an_identifier_that_cannot_be_resolved_exactly_is_refused_with_the_reason(
    authorizer: PolicyAuthorizer, sql: str
) -> None:
    decision = authorizer.check_statement(ALICE, sql, SessionState())
    assert not decision.allowed
    assert "could not be fully analysed" in decision.reason
    assert "default.identifier" not in decision.reason


def test_identifier_in_function_position_is_the_function(authorizer: PolicyAuthorizer) -> None:
    decision = authorizer.check_statement(ALICE, "SELECT IDENTIFIER('reflect')('java.lang.Thread', 'sleep', 1L)",
                                          SessionState())  # fmt: skip
    assert not decision.allowed and "reflect()" in decision.reason


USE_FORMS = ["USE hr", "USE DATABASE hr", "USE SCHEMA hr", "USE NAMESPACE hr", "use namespace HR", "USE `hr`",
             "USE IDENTIFIER('hr')", "USE spark_catalog.hr", "USE IDENTIFIER('spark_catalog.hr')",
             "USE DATABASE IDENTIFIER('hr')", "/* c */ USE\n  SCHEMA hr ;", "USE/**/hr",
             "USE /* a */ NAMESPACE -- b\n hr"]  # fmt: skip


@pytest.mark.parametrize("use", USE_FORMS)
def test_every_use_form_moves_name_resolution(use: str, tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY + '\n[[rules]]\nprincipals = ["user:alice"]\nread = ["hr.open"]\n')
    authorizer = PolicyAuthorizer(load_policy(str(path)))
    state = SessionState()
    assert run(authorizer, use, state).allowed
    assert state.current_db == "hr"
    denied = run(authorizer, "SELECT * FROM salaries", state)
    assert not denied.allowed and "alice may not read hr.salaries" in denied.reason
    assert run(authorizer, "SELECT * FROM open", state).allowed


def test_use_of_the_current_catalog_changes_nothing(authorizer: PolicyAuthorizer) -> None:
    state = SessionState(current_db="sales")
    for sql in (
        "USE spark_catalog",
        "SET CATALOG spark_catalog",
        "SET CATALOG 'spark_catalog'",
        "SET CATALOG `spark_catalog`",
    ):
        assert run(authorizer, sql, state).allowed, sql
        assert state.current_db == "sales"


@pytest.mark.parametrize("sql", ["SET CATALOG other", "SET CATALOG 'other'", "USE CATALOG other", "USE other.hr",
                                 "USE a.b.c", "USE IDENTIFIER(concat('h', 'r'))"])  # fmt: skip
def test_a_move_to_another_catalog_is_refused_and_names_no_made_up_database(
    authorizer: PolicyAuthorizer, sql: str
) -> None:
    state = SessionState()
    decision = run(authorizer, sql, state)
    assert not decision.allowed and "could not be fully analysed" in decision.reason
    assert "namespace" not in decision.reason.lower().replace("nested namespaces", "")
    assert state.current_db == "default"


def test_temporary_views_are_the_users_own(authorizer: PolicyAuthorizer) -> None:
    state = SessionState()
    assert run(authorizer, "CREATE TEMPORARY VIEW IDENTIFIER('tv1') AS SELECT * FROM sales.orders", state).allowed
    assert state.temp_views == {"tv1"}
    for sql in ("SELECT * FROM tv1", "DESCRIBE tv1", "CACHE TABLE tv1", "UNCACHE TABLE tv1",
                "UNCACHE TABLE IF EXISTS tv1", "REFRESH TABLE tv1", "SHOW COLUMNS IN tv1",
                "ALTER VIEW tv1 AS SELECT * FROM sales.refunds", "CACHE TABLE IDENTIFIER('tv1')"):  # fmt: skip
        decision = run(authorizer, sql, state)
        assert decision.allowed, (sql, decision.reason)
    assert not run(authorizer, "ALTER VIEW tv1 AS SELECT * FROM hr.salaries", state).allowed
    assert run(authorizer, "ALTER VIEW tv1 RENAME TO tv2", state).allowed and state.temp_views == {"tv2"}
    assert run(authorizer, "DROP VIEW IDENTIFIER('tv2')", state).allowed and state.temp_views == set()
    assert not run(authorizer, "DROP VIEW tv2", state).allowed  # now a table name again: default.tv2
    assert run(authorizer, "CACHE TABLE tv3 AS SELECT * FROM sales.orders", state).allowed
    assert run(authorizer, "DROP VIEW IF EXISTS tv3", state).allowed and state.temp_views == set()


def test_every_statement_spark_drops_a_temp_view_with_is_followed(authorizer: PolicyAuthorizer) -> None:
    """Issue 15: DROP TABLE drops a temp view too, CACHE TABLE AS creates one, a global temp view is
    global_temp.<name> (refused for non-admins) and never hides a table."""
    state = SessionState(current_db="scratch_alice")
    for create in ("CREATE TEMPORARY VIEW salaries AS SELECT 1 AS x", "CACHE TABLE Salaries AS SELECT 1 AS x",
                   "CACHE LAZY TABLE salaries AS SELECT 1 AS x"):  # fmt: skip
        assert run(authorizer, create, state).allowed and state.temp_views == {"salaries"}
        decision = run(authorizer, "DROP TABLE SALARIES", state)
        assert decision.allowed and decision.tables_written == () and state.temp_views == set()
    global_view = "CREATE GLOBAL TEMP VIEW salaries AS SELECT 1"
    assert "CREATE GLOBAL TEMPORARY VIEW" in run(authorizer, global_view, state).reason
    assert run(authorizer, global_view, state, CAROL).allowed
    assert state.temp_views == set()
    assert "data source temporary view" in run(authorizer, "CREATE TEMPORARY TABLE t (a INT) USING csv", state).reason
    replace = "DROP TABLE tv; CREATE TEMP VIEW tv AS SELECT 1"  # forgotten first, back once both ran
    decision = authorizer.check_statement(ALICE, replace, SessionState(temp_views={"tv"}))
    assert decision.change is not None and decision.change.views_created == decision.change.views_dropped == {"tv"}
    state = SessionState(temp_views={"tv"})
    for sql in ("INSERT INTO tv VALUES (1)", "TRUNCATE TABLE tv", "ALTER TABLE tv SET TBLPROPERTIES ('k' = 'v')",
                "MSCK REPAIR TABLE tv", "DELETE FROM tv WHERE true", "COMMENT ON TABLE tv IS 'x'"):  # fmt: skip
        reason = run(authorizer, sql, state).reason
        assert "on the temporary view tv" in reason, (sql, reason)
    assert state.temp_views == {"tv"}


def test_a_statement_nested_900_deep_is_refused_not_crashed(authorizer: PolicyAuthorizer) -> None:
    sql = "SELECT " + "(" * 900 + "1" + ")" * 900
    decision = authorizer.check_statement(ALICE, sql, SessionState())
    assert not decision.allowed and "nests 900 levels deep" in decision.reason
    assert "[policy] max_statement_depth" in decision.reason
    nested_case = "SELECT " + "CASE WHEN true THEN " * 900 + "1" + " END" * 900
    decision = authorizer.check_statement(ALICE, nested_case, SessionState())
    assert not decision.allowed and "could not be fully analysed" in decision.reason


def big_case(branches: int) -> str:
    whens = " ".join(f"WHEN amount = {i} THEN 'label number {i}'" for i in range(branches))
    return f"SELECT CASE {whens} ELSE 'other' END AS label FROM sales.orders"


def test_a_huge_case_is_refused_naming_the_bound(authorizer: PolicyAuthorizer) -> None:
    sql = big_case(20_000)
    assert len(sql) > 500_000
    decision = authorizer.check_statement(ALICE, sql, SessionState())
    assert not decision.allowed
    assert "tokens; the gateway analyses at most 50,000 ([policy] max_statement_tokens)" in decision.reason
    assert authorizer.check_statement(ALICE, big_case(100), SessionState()).allowed
    assert authorizer.check_statement(CAROL, sql, SessionState()).allowed  # admins are trusted with the engine


def test_policy_check_prints_deny_for_a_deep_statement(tmp_path: Path) -> None:
    from adhoc.authz.cli import policy_check

    (tmp_path / "policy.toml").write_text(POLICY)
    (tmp_path / "adhoc.toml").write_text('[policy]\nfile = "policy.toml"\nmax_statement_depth = 50\n')
    out = io.StringIO()
    sql = "SELECT " + "(" * 900 + "1" + ")" * 900 + "; SELECT " + "(" * 60 + "1" + ")" * 60 + "; SELECT 1"
    assert policy_check(str(tmp_path / "adhoc.toml"), "alice", sql, None, out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("DENY: permission denied: the statement nests 900 levels deep")
    assert lines[1] == ("DENY: permission denied: the statement nests 60 levels deep; the gateway analyses at most "
                        "50 ([policy] max_statement_depth)")  # fmt: skip
    assert lines[2] == "ALLOW"


@pytest.mark.parametrize(
    ("sql", "key"),
    [
        ("SET hivevar:spark.sql.catalog.evil = org.example.Evil", "spark.sql.catalog.evil"),
        ("SET spark.sql.defaultCatalog = evil", "spark.sql.defaultCatalog"),
        ("SET spark.sql.caseSensitive = true", "spark.sql.caseSensitive"),
        ("SET spark.sql.ansi.doubleQuotedIdentifiers = true", "spark.sql.ansi.doubleQuotedIdentifiers"),
        ("SET `hivevar:spark.hadoop.fs.defaultFS` = file:///", "spark.hadoop.fs.defaultFS"),
        ("SET hadoop.security.authentication = simple", "hadoop.security.authentication"),
        ("SET spark.sql.parser.escapedStringLiterals = true", "spark.sql.parser.escapedStringLiterals"),
        ("SET spark.sql.sources.default = jdbc", "spark.sql.sources.default"),
        ("SET spark.sql.sources.commitProtocolClass = org.example.Evil", "spark.sql.sources.commitProtocolClass"),
        ("RESET hivevar:spark.sql.extensions", "spark.sql.extensions"),
    ],
)
def test_set_reads_keys_with_the_session_conf_normaliser(authorizer: PolicyAuthorizer, sql: str, key: str) -> None:
    decision = authorizer.check_statement(ALICE, sql, SessionState())
    assert not decision.allowed and f"alice may not SET {key}" in decision.reason


def test_analyze_tables_in_a_database_writes_all_of_it(authorizer: PolicyAuthorizer) -> None:
    assert authorizer.check_statement(
        ALICE, "ANALYZE TABLES IN scratch_alice COMPUTE STATISTICS", SessionState()
    ).allowed
    decision = authorizer.check_statement(ALICE, "ANALYZE TABLES IN sales COMPUTE STATISTICS NOSCAN", SessionState())
    assert not decision.allowed and "may not create, alter or drop database sales" in decision.reason
    decision = authorizer.check_statement(ALICE, "ANALYZE TABLES COMPUTE STATISTICS", SessionState(current_db="sales"))
    assert not decision.allowed


def test_set_system_is_for_admins(authorizer: PolicyAuthorizer) -> None:
    decision = authorizer.check_statement(ALICE, "SET system:user.name = admin", SessionState())
    assert not decision.allowed and "JVM-wide system property" in decision.reason


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        ("SHOW TABLE EXTENDED IN sales LIKE '*'", None),
        ("SHOW TABLE EXTENDED FROM spark_catalog.sales LIKE 'ord*|cust*'", None),
        ("SHOW TABLE EXTENDED IN default LIKE 'events'", None),
        (
            "SHOW TABLE EXTENDED IN default LIKE '*'",
            "may not list the tables of default in detail (needs read on default.*)",
        ),
        ("SHOW TABLE EXTENDED IN hr LIKE 'salaries'", "alice may not read hr.salaries"),
        ("SHOW TABLE EXTENDED LIKE 'secret'", "alice may not read default.secret"),
    ],
)
def test_show_table_extended_needs_read_on_what_it_lists(
    authorizer: PolicyAuthorizer, sql: str, refused: str | None
) -> None:
    decision = authorizer.check_statement(ALICE, sql, SessionState())
    assert decision.allowed == (refused is None), decision.reason
    assert refused is None or refused in decision.reason
