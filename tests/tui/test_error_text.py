"""Engine errors as a person reads them: Spark's words, without Java's wrapping."""

from __future__ import annotations

import pytest

from tui.hs2 import clean_message

WRAPPED = "org.apache.hive.service.cli.HiveSQLException: Error running query: "


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (  # what STS 4 sends for a missing table
            WRAPPED + "[TABLE_OR_VIEW_NOT_FOUND] org.apache.spark.sql.AnalysisException: [TABLE_OR_VIEW_NOT_FOUND] "
            "The table or view `nope` cannot be found.\n\tat org.apache.spark.sql.hive.thriftserver.X(X.scala:1)",
            "[TABLE_OR_VIEW_NOT_FOUND] The table or view `nope` cannot be found.",
        ),
        (
            WRAPPED + "org.apache.spark.sql.catalyst.parser.ParseException: \n[PARSE_SYNTAX_ERROR] Syntax error at "
            "or near 'SELEC'. SQLSTATE: 42601 (line 1, pos 0)\nCaused by: something",
            "[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'. SQLSTATE: 42601 (line 1, pos 0)",
        ),
        (  # the gateway's own refusals are already plain
            "permission denied: alice may not read hr.salaries (no rule grants read on it)",
            "permission denied: alice may not read hr.salaries (no rule grants read on it)",
        ),
        ("Error: java.lang.Thread.sleep is not a function", "Error: java.lang.Thread.sleep is not a function"),
    ],
)
def test_clean_message(raw: str, shown: str) -> None:
    assert clean_message(raw) == shown
