"""Spark as the oracle: every table the real engine's analyzed plan reads or writes must be one the
analyser reported, in the same direction; what the analyser cannot map must be refused.

A generated corpus, every statement template x every name form, over contexts the USE state machine
moves between (each USE runs on the engine too, and `current_database()` must agree), is run through
the real STS as EXPLAIN EXTENDED (nothing runs). Tables have unique names: the STS is shared.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from pyhive import hive

from adhoc.authz.analyzer import analyze
from adhoc.authz.names import TableRef
from adhoc.authz.statement import StatementInfo
from tests.sts import RunningSTS

P = f"o{uuid.uuid4().hex[:6]}"  # every object this test creates starts with it
A, B = f"{P}_a", f"{P}_b"
T1, T2, PT, SHADOWED, TV, NEW, VIEW = (f"{P}_{n}" for n in ("t1", "t2", "pt", "t3", "tv", "new", "v"))

# How a statement may spell a table `t` of database `db` (None: the current database).
NameForm = Callable[[str | None, str], str]
NAME_FORMS: dict[str, NameForm] = {
    "plain": lambda db, t: t if db is None else f"{db}.{t}",
    "qualified": lambda db, t: f"{db or 'default'}.{t}",
    "backticked": lambda db, t: f"`{db or 'default'}`.`{t}`",
    "upper case": lambda db, t: f"{(db or 'default').upper()}.{t.upper()}",
    "catalog": lambda db, t: f"spark_catalog.{db or 'default'}.{t}",
    "identifier": lambda db, t: f"IDENTIFIER('{db}.{t}')" if db else f"IDENTIFIER('{t}')",
    "identifier in current db": lambda db, t: f"identifier ( '{t}' )",
}
# {t}: an existing table written or inspected; {s}, {s2}: tables read; {new}: a table that does not exist
TEMPLATES = [
    "SELECT * FROM {s}",
    "SELECT x.id FROM {s} x JOIN {s2} y ON x.id = y.id",
    "SELECT * FROM {s} WHERE id IN (SELECT id FROM {s2})",
    f"WITH {T1} AS (SELECT * FROM {{s}}) SELECT * FROM {T1}",  # a CTE named like a table
    "TABLE {s}",
    f"SELECT * FROM {TV} JOIN {{s}} USING (id)",  # a temporary view: checked when it was created
    f"SELECT * FROM {SHADOWED}",  # a temporary view hiding the current database's table
    f"DROP TABLE {SHADOWED}",  # drops the temp view, not the table under it
    f"DROP VIEW {SHADOWED}",
    f"ALTER TABLE {SHADOWED} RENAME TO {P}_tv2",
    f"CACHE TABLE {SHADOWED}",
    f"SELECT * FROM default.{SHADOWED}",  # qualified: the table, never the temp view
    "INSERT INTO {t} SELECT * FROM {s}",
    "INSERT INTO TABLE {t} VALUES (1, 'x')",
    "INSERT OVERWRITE TABLE {t} SELECT * FROM {s}",
    "FROM {s} INSERT INTO {t} SELECT *",
    "CREATE TABLE {new} AS SELECT * FROM {s}",
    "CREATE TABLE {new} (id INT) USING parquet",
    "CREATE TABLE {new} LIKE {s}",
    "CREATE VIEW {new} AS SELECT * FROM {s}",
    "CREATE TEMPORARY VIEW tmp_new AS SELECT * FROM {s}",
    "CACHE TABLE cache_new AS SELECT * FROM {s}",
    "TRUNCATE TABLE {t}",
    "DROP TABLE {t}",
    "DROP TABLE IF EXISTS {new}",
    "ALTER TABLE {t} ADD COLUMNS (z INT)",
    "ALTER TABLE {t} SET TBLPROPERTIES ('k' = 'v')",
    "ALTER TABLE {t} RENAME TO {new}",
    "COMMENT ON TABLE {t} IS 'x'",
    "ANALYZE TABLE {t} COMPUTE STATISTICS",
    "DESCRIBE {t}",
    "DESCRIBE TABLE EXTENDED {t}",
    "DESCRIBE {t} id",
    "SHOW TBLPROPERTIES {t}",
    "SHOW COLUMNS IN {t}",
    "SHOW CREATE TABLE {t}",
    "CACHE TABLE {t}",
    "UNCACHE TABLE {t}",
    "REFRESH TABLE {t}",
    "EXPLAIN SELECT * FROM {s}",
    "SELECT * FROM {v}",
    "ALTER VIEW {v} AS SELECT * FROM {s}",
    "ALTER VIEW {v} SET TBLPROPERTIES ('k' = 'v')",
    "DROP VIEW {v}",
    "SHOW PARTITIONS {pt}",
    "MSCK REPAIR TABLE {pt}",
    "ALTER TABLE {pt} RECOVER PARTITIONS",
    "INSERT OVERWRITE TABLE {pt} PARTITION (p = 1) SELECT id, v FROM {s}",
]
CONTEXTS = [None, f"USE {A}", f"USE NAMESPACE {B}", f"USE IDENTIFIER('{A}')", f"USE spark_catalog.{B}",
            f"USE SCHEMA `{A}`", "USE default", "SET CATALOG spark_catalog"]  # fmt: skip


@dataclass(frozen=True)
class Access:
    reads: frozenset[TableRef]
    writes: frozenset[TableRef]


# -- reading Spark's analyzed plan ---------------------------------------------------------------

_NAMES = re.compile(
    r"`spark_catalog`\.`(?P<d1>\w+)`\.`(?P<t1>\w+)`"
    r"|spark_catalog\.(?P<d2>\w+)\.(?P<t2>\w+)"
    r"|V2SessionCatalog\(spark_catalog\), (?P<d3>\w+)\.(?P<t3>\w+)"
    r"|(?<![`.])`(?P<d4>\w+)`\.`(?P<t4>\w+)`(?![.`])"
)
_READ_NODES = ("Relation ", "SubqueryAlias ", "HiveTableRelation ", "LogicalRelation ", "View (")
# Commands whose own table they only look at (their plan has no Relation for it)
_READ_ROOTS = {"DescribeTableCommand", "DescribeRelation", "ShowTableProperties", "ShowColumnsCommand",
               "ShowCreateTable", "ShowCreateTableCommand", "ShowPartitionsCommand", "CacheTable", "UncacheTable",
               "RefreshTableCommand", "DescribeColumnCommand", "DescribeColumn"}  # fmt: skip


# Commands that print the text of their query after their own name
_SQL_TEXT_ROOTS = {"CreateViewCommand", "CacheTableAsSelect", "AlterViewAsCommand", "CreateTempViewUsing"}


def analyzed_plan(cur: hive.Cursor, sql: str) -> list[str] | None:
    """The analyzed plan's lines, or None when Spark does not accept the statement."""
    try:
        cur.execute(f"EXPLAIN EXTENDED {sql}")
        text = "\n".join(str(r[0]) for r in cur.fetchall())
    except Exception:
        return None
    if "== Analyzed Logical Plan ==" not in text:
        return None
    section = text.split("== Analyzed Logical Plan ==")[1].split("== Optimized Logical Plan ==")[0]
    if "Exception" in section or "'Unresolved" in section:
        return None
    lines = [line for line in section.strip("\n").splitlines() if line.strip()]
    if lines and re.match(r"^[\w`#.()]+: \w", lines[0]):
        lines = lines[1:]  # the output schema, not a plan node
    return lines


def spark_access(lines: list[str]) -> Access:
    reads: set[TableRef] = set()
    writes: set[TableRef] = set()
    root = lines[0].split(" ")[0]
    view_depth: int | None = None  # inside a temporary view's definition: checked at its creation
    for n, line in enumerate(lines):
        node = line.lstrip(" :+-|")
        if n == 0 and root in _SQL_TEXT_ROOTS:
            node = node.split(", ", 1)[0]  # then comes the query's own text, names and all
        depth = len(line) - len(node)
        if view_depth is not None and depth > view_depth:
            continue
        view_depth = depth if node.startswith("View (") else None
        names = [TableRef(*(g.lower() for g in m.groups() if g is not None)) for m in _NAMES.finditer(node)]
        for i, ref in enumerate(names):
            read = node.startswith(_READ_NODES) or root in _READ_ROOTS
            read = read or (root == "CreateTableLikeCommand" and i == 1)
            (reads if read else writes).add(ref)
    return Access(frozenset(reads), frozenset(writes))


# -- the corpus ----------------------------------------------------------------------------------


def statements() -> Iterator[tuple[str, str]]:
    """(template, name form) pairs: every template with the forms resolution depends on most (the
    current database, IDENTIFIER), and one of the spellings of a qualified name in turn, which
    keeps the run to a few hundred EXPLAINs on a shared engine."""
    always = ["plain", "identifier", "identifier in current db"]
    spellings = [f for f in NAME_FORMS if f not in always]
    for i, template in enumerate(TEMPLATES):
        yield from itertools.product([template], [*always, spellings[i % len(spellings)]])


def render(template: str, form: str, current_db: str, i: int) -> str:
    spell = NAME_FORMS[form]
    in_current = form in ("plain", "identifier in current db")

    def name(db: str, table: str) -> str:
        return spell(None if in_current else db, table)

    other = B if current_db == A else A
    return template.format(t=name(other if i % 2 else current_db, T1), s=name(B, T2), s2=name(A, T1),
                           new=name(A, NEW), pt=name(A, PT), v=name(A, VIEW))  # fmt: skip


@pytest.fixture(scope="module")
def spark(sts: RunningSTS) -> Iterator[hive.Cursor]:
    conn = hive.connect(sts.host, port=sts.port, username="oracle")
    cur = conn.cursor()
    for db in (A, B, "default"):
        if db != "default":
            cur.execute(f"CREATE DATABASE {db}")
        for table in (T1, T2):
            cur.execute(f"CREATE TABLE {db}.{table} (id INT, v STRING) USING parquet")
        cur.execute(f"CREATE TABLE {db}.{SHADOWED} (id INT, v STRING) USING parquet")
        cur.execute(f"CREATE TABLE {db}.{PT} (id INT, v STRING, p INT) USING parquet PARTITIONED BY (p)")
        cur.execute(f"CREATE VIEW {db}.{VIEW} AS SELECT * FROM {db}.{T1}")
    cur.execute(f"CREATE TEMPORARY VIEW {TV} AS SELECT * FROM {A}.{T2}")
    cur.execute(f"CREATE TEMPORARY VIEW {SHADOWED} AS SELECT * FROM {B}.{T1}")
    yield cur
    for db in (A, B):
        cur.execute(f"DROP DATABASE IF EXISTS {db} CASCADE")
    cur.execute(f"DROP VIEW IF EXISTS default.{VIEW}")
    for table in (T1, T2, SHADOWED, PT):
        cur.execute(f"DROP TABLE IF EXISTS default.{table}")
    conn.close()


def test_the_analyser_covers_every_table_spark_touches(spark: hive.Cursor) -> None:
    current_db, temp_views = "default", frozenset({TV, SHADOWED})
    corpus = list(statements())
    per_context = -(-len(corpus) // len(CONTEXTS))
    mismatches: list[str] = []
    accepted = mapped = 0
    for c, context in enumerate(CONTEXTS):
        if context is not None:
            [use] = analyze(context, current_db, temp_views)
            assert not use.unresolved, (context, use.unresolved)
            spark.execute(context)
            current_db = use.use_db or current_db
            spark.execute("SELECT current_database()")
            assert spark.fetchall() == [(current_db,)], f"after {context!r} the gateway would resolve in {current_db}"
        for i, (template, form) in enumerate(corpus[c * per_context : (c + 1) * per_context]):
            sql = render(template, form, current_db, i)
            plan = analyzed_plan(spark, sql)
            if plan is None:
                continue  # Spark does not accept it here (a name that does not exist, say)
            accepted += 1
            [info] = analyze(sql, current_db, temp_views)
            if refused(info):
                continue  # refused, never allowed: what the analyser cannot map must not run
            mapped += 1
            mismatches += [f"{sql!r} in {current_db}: {m}" for m in compare(spark_access(plan), info)]
    print(f"oracle: {len(corpus)} statements, {accepted} accepted by Spark, {mapped} allowed by the analyser")
    assert not mismatches, "\n".join(mismatches)
    assert accepted >= len(corpus) * 0.7 and mapped >= accepted * 0.9, (accepted, mapped, len(corpus))


def refused(info: StatementInfo) -> bool:
    return bool(info.unresolved or info.denied_class or info.over_limit)


def compare(spark: Access, info: StatementInfo) -> list[str]:
    out = [f"Spark writes {ref}, the analyser did not say so" for ref in spark.writes - info.writes]
    # a table the analyser says is written is checked for write, which implies read
    out += [f"Spark reads {ref}, the analyser did not say so" for ref in spark.reads - info.reads - info.writes]
    return out


def test_the_plan_reader_sees_reads_writes_and_views() -> None:
    """The oracle's own reading of plan text (formats seen from Spark 4.0's EXPLAIN EXTENDED)."""
    plan = [
        "InsertIntoHadoopFsRelationCommand file:/w/a.db/t, false, Parquet, [path=file:/w/a.db/t], Append, "
        "`spark_catalog`.`a`.`t`, org.Serde, [id]",
        "+- Join Inner",
        "   :- SubqueryAlias spark_catalog.b.s",
        "   :  +- Relation spark_catalog.b.s[id#1] parquet",
        "   +- SubqueryAlias tv",
        "      +- View (`tv`, [id#2])",
        "         +- Relation spark_catalog.hr.secret[id#2] parquet",
    ]
    access = spark_access(plan)
    assert access.writes == {TableRef("a", "t")} and access.reads == {TableRef("b", "s")}
    like = spark_access(["CreateTableLikeCommand `a`.`n`, `b`.`s`, Storage(), false"])
    assert like.writes == {TableRef("a", "n")} and like.reads == {TableRef("b", "s")}
    drop = spark_access(["DropTable false, false", "+- ResolvedIdentifier V2SessionCatalog(spark_catalog), a.t"])
    assert drop.writes == {TableRef("a", "t")}
