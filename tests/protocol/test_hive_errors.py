"""A Java exception printed by GetOperationStatus, back in the shape of a sync call's TStatus."""

from __future__ import annotations

from adhoc.protocol.hive_errors import status_fields

PRINTED = """org.apache.hive.service.cli.HiveSQLException: Error running query: [TABLE_OR_VIEW_NOT_FOUND] The table `t` cannot be found.
If you did not qualify the name with a schema, verify the current_schema() output.
'Project [*]
+- 'UnresolvedRelation [t], [], false

\tat org.apache.spark.sql.hive.thriftserver.HiveThriftServerErrors$.runningQueryError(HiveThriftServerErrors.scala:43)
\tat java.base/java.lang.Thread.run(Thread.java:840)
\tat jdk.internal.reflect.GeneratedMethodAccessor86.invoke(Unknown Source)
\tat java.lang.Object.wait(Native Method)
Caused by: org.apache.spark.sql.AnalysisException: [TABLE_OR_VIEW_NOT_FOUND] The table `t` cannot be found.
\tat org.apache.spark.sql.catalyst.Analyzer.check(Analyzer.scala:10)
\t... 3 more
"""  # noqa: E501


def test_a_printed_trace_becomes_hives_message_and_info_lines() -> None:
    fields = status_fields(PRINTED)
    assert fields is not None
    message, info = fields
    assert message.startswith("Error running query: [TABLE_OR_VIEW_NOT_FOUND]")
    assert message.endswith("+- 'UnresolvedRelation [t], [], false\n")  # multi-line, kept whole
    assert info == [
        f"*org.apache.hive.service.cli.HiveSQLException:{message}:4:3",
        "org.apache.spark.sql.hive.thriftserver.HiveThriftServerErrors$:runningQueryError:HiveThriftServerErrors.scala:43",
        "java.lang.Thread:run:Thread.java:840",
        "jdk.internal.reflect.GeneratedMethodAccessor86:invoke::-1",
        "java.lang.Object:wait::-2",
        "*org.apache.spark.sql.AnalysisException:[TABLE_OR_VIEW_NOT_FOUND] The table `t` cannot be found.:4:0",
        "org.apache.spark.sql.catalyst.Analyzer:check:Analyzer.scala:10",
    ]  # fmt: skip


def test_an_exception_without_frames() -> None:
    assert status_fields("java.lang.IllegalStateException: boom") == (
        "boom", ["*java.lang.IllegalStateException:boom:0:-1"]
    )  # fmt: skip


def test_text_that_is_not_a_java_trace_is_left_alone() -> None:
    assert status_fields("operation ended in state 3") is None
    assert status_fields("") is None
    assert status_fields("Error: something\n\tat nonsense") is None
