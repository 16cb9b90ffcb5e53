"""What a SQL text would do, statement by statement, as Spark would resolve it.

    for info in analyze(sql, current_db="default", temp_views={"tv"}):
        info.reads, info.writes, info.denied_class, info.unresolved, ...

Built on sqlglot's Spark dialect. Whatever the analyser cannot resolve with certainty sets
`unresolved` (and the authorizer refuses it): a parse error, a statement kind it does not know, an
unknown table-valued function, a non-literal IDENTIFIER(), a catalog other than spark_catalog.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

from adhoc.authz.names import TableRef, resolve_identifier_literal, table_ref
from adhoc.authz.sql_commands import analyze_command, strip_leading_comments

# sqlglot warns for every statement it keeps as an opaque command; those are handled here.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

# Functions that reach into the JVM: anything is possible through them.
JVM_FUNCTIONS = frozenset({"reflect", "java_method", "try_reflect"})
# Table-valued functions that read nothing but their arguments.
SAFE_TABLE_FUNCTIONS = frozenset(
    {"range", "explode", "explode_outer", "inline", "inline_outer", "posexplode", "posexplode_outer",
     "stack", "json_tuple", "sql_keywords", "variant_explode", "variant_explode_outer"}
)  # fmt: skip
# Table formats a CREATE TABLE may use (USING / STORED AS): data kept in the warehouse. Others
# (jdbc, kafka, a class name) reach systems outside it from the cluster: refused for non-admins.
TABLE_PROVIDERS = frozenset(
    {"parquet", "orc", "csv", "json", "text", "avro", "xml", "binaryfile", "delta", "iceberg", "hudi", "paimon",
     "hive", "textfile", "sequencefile", "rcfile", "jsonfile"}
)  # fmt: skip
# Sources Spark reads straight from a path: format.`/path`
FILE_FORMATS = frozenset(
    {"parquet", "orc", "csv", "json", "text", "avro", "binaryfile", "delta", "hudi", "iceberg", "jdbc", "xml"}
)


@dataclass
class StatementInfo:
    text: str
    kind: str = ""
    reads: set[TableRef] = field(default_factory=set)
    writes: set[TableRef] = field(default_factory=set)
    databases_written: set[str] = field(default_factory=set)  # CREATE / DROP / ALTER DATABASE
    denied_class: str = ""  # a class of statement only admins may run, e.g. "ADD JAR"
    unresolved: str = ""  # why the analyser could not fully understand the statement
    conf_keys: list[str] = field(default_factory=list)
    use_db: str | None = None
    temp_views_created: set[str] = field(default_factory=set)
    temp_views_dropped: set[str] = field(default_factory=set)

    def deny_class(self, name: str) -> None:
        self.denied_class = self.denied_class or name

    def fail(self, why: str) -> None:
        self.unresolved = self.unresolved or why


_SPARK = Dialect.get_or_raise("spark")


@dataclass(frozen=True)
class _Chunk:
    text: str
    tokens: list[Token] | None  # None when the text could not be tokenized


def _chunks(sql: str) -> list[_Chunk]:
    """Statements split on top-level semicolons (never those in strings or comments), tokenized
    once: the same tokens then go to the parser."""
    try:
        tokens = _SPARK.tokenize(sql)
    except TokenError:
        return [_Chunk(sql, None)]  # the parser will say what is wrong
    out: list[_Chunk] = []
    current: list[Token] = []
    for token in [*tokens, None]:
        if token is None or token.token_type == TokenType.SEMICOLON:
            if current:
                out.append(_Chunk(sql[current[0].start : current[-1].end + 1], current))
            current = []
        else:
            current.append(token)
    return out


def split_statements(sql: str) -> list[str]:
    return [chunk.text for chunk in _chunks(sql)]


def analyze(sql: str, current_db: str = "default", temp_views: frozenset[str] = frozenset()) -> list[StatementInfo]:
    """One StatementInfo per statement; USE and temp views carry over to the following statements."""
    infos: list[StatementInfo] = []
    views = set(temp_views)
    for chunk in _chunks(sql):
        info = _analyze_chunk(chunk, sql, current_db, frozenset(views))
        infos.append(info)
        if info.use_db:
            current_db = info.use_db
        views |= info.temp_views_created
        views -= info.temp_views_dropped
    return infos


def analyze_statement(text: str, current_db: str, temp_views: frozenset[str]) -> StatementInfo:
    """One statement's text (EXPLAIN's inner statement, for one)."""
    chunks = _chunks(text)
    if len(chunks) > 1:
        info = StatementInfo(text)
        info.fail("expected exactly one statement")
        return info
    return _analyze_chunk(chunks[0] if chunks else _Chunk(text, []), text, current_db, temp_views)


def _analyze_chunk(chunk: _Chunk, sql: str, current_db: str, temp_views: frozenset[str]) -> StatementInfo:
    info = StatementInfo(chunk.text)
    if "${" in sql:
        # Spark substitutes ${var}, ${hiveconf:x}, ${env:X}, ${system:x} in the raw text after this
        # check (quotes, comments and all): the statement it runs is not the one checked here, and
        # ${env:...} reads the driver's environment. What it would become cannot be known: refused.
        info.deny_class("variable substitution ${...}")
    if analyze_command(chunk.text, info, current_db, temp_views, analyze_statement):
        return info
    try:
        if chunk.tokens is None:
            parsed = sqlglot.parse(chunk.text, read="spark")
        else:
            parsed = _SPARK.parser().parse(chunk.tokens, sql)
    except (ParseError, TokenError) as e:
        info.fail(f"not valid Spark SQL: {_first_line(str(e))}")
        return info
    if len(parsed) != 1 or parsed[0] is None:
        info.fail("expected exactly one statement")
        return info
    try:
        _Walker(info, current_db, temp_views).statement(parsed[0])
    finally:
        _unlink(parsed[0])
    return info


def _unlink(tree: exp.Expr) -> None:
    # sqlglot nodes point at their parents: every tree is a web of reference cycles that only the
    # cyclic GC frees, in pauses that grow with the garbage (p99 x4 on a 10 KB query). Cutting the
    # upward links lets reference counting free the tree the moment the analysis is done.
    for node in list(tree.walk()):
        node.parent = None


def _first_line(message: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", message).splitlines()[0][:200]


class _Walker:
    def __init__(self, info: StatementInfo, current_db: str, temp_views: frozenset[str]) -> None:
        self.info = info
        self.db = current_db
        self.temp_views = temp_views

    def statement(self, node: exp.Expr) -> None:
        info = self.info
        if isinstance(node, exp.Query | exp.Values):
            info.kind = "query"
        elif isinstance(node, exp.Insert):
            info.kind = "insert"
            self.insert(node)
        elif isinstance(node, exp.MultitableInserts):
            info.kind = "insert"
            for insert in node.expressions:
                self.insert(insert)
        elif isinstance(node, exp.Create):
            self.create(node)
        elif isinstance(node, exp.Drop):
            self.drop(node)
        elif isinstance(node, exp.Alter):
            info.kind = f"alter {str(node.args.get('kind') or 'table').lower()}"
            if node.find(exp.LocationProperty) or any(
                isinstance(a, exp.AlterSet) and a.args.get("location") for a in node.args.get("actions") or []
            ):
                info.deny_class("LOCATION")
            if any(_is_path_option(p) for p in node.find_all(exp.Property)):
                info.deny_class("a 'path' property")  # a data source table's location, by another name
            self.write(node.this)
            for action in node.args.get("actions") or []:
                if isinstance(action, exp.AlterRename):
                    self.rename_target(node.this, action.this)
        elif isinstance(node, exp.Use):
            info.kind = "use"
            if node.args.get("kind") and str(node.args["kind"]).upper() not in ("DATABASE", "SCHEMA", "NAMESPACE"):
                info.fail(f"USE {node.args['kind']} is not supported")
            ref = node.this
            info.use_db = (ref.name if isinstance(ref, exp.Table) else str(ref)).lower()
            if isinstance(ref, exp.Table) and ref.args.get("db"):
                info.fail("USE of a catalog-qualified namespace is not supported")
        elif isinstance(node, exp.Set):
            self.set(node)
        elif isinstance(node, exp.Describe):
            info.kind = "describe"
            self.read(node.this)
        elif isinstance(node, exp.Cache):
            info.kind = "cache"
            if node.expression is not None:
                self.query_sources(node.expression)
                info.temp_views_created.add(node.this.name.lower())
            else:
                self.read(node.this)
        elif isinstance(node, exp.Uncache | exp.Refresh):
            info.kind = node.key
            if isinstance(node.this, exp.Table):
                self.read(node.this)
        elif isinstance(node, exp.Merge | exp.Update | exp.Delete | exp.TruncateTable):
            info.kind = node.key
            targets = node.expressions if isinstance(node, exp.TruncateTable) else [node.this]
            for target in targets:
                self.write(target)
        elif isinstance(node, exp.Analyze):
            info.kind = "analyze"
            for table in node.args.get("tables") or [node.this]:
                self.write(table)
        elif isinstance(node, exp.LoadData):
            info.deny_class("LOAD DATA")
        elif isinstance(node, exp.Declare):
            info.kind = "declare variable"
        elif isinstance(node, exp.Comment):  # COMMENT ON TABLE / DATABASE: changes the object
            kind = str(node.args.get("kind") or "").upper()
            info.kind = f"comment on {kind.lower()}"
            if kind in ("DATABASE", "SCHEMA", "NAMESPACE"):
                info.databases_written.add(node.this.name.lower())
            elif kind in ("TABLE", "VIEW"):
                self.write(node.this)
            else:
                info.fail(f"COMMENT ON {kind} is not understood")
        else:
            info.fail(f"statement kind {type(node).__name__} is not understood")
        self.scan(node)

    # -- statement kinds --------------------------------------------------------------------------

    def insert(self, node: exp.Insert) -> None:
        target = node.this
        if isinstance(target, exp.Directory):
            self.info.deny_class("INSERT OVERWRITE DIRECTORY")
            return
        if isinstance(target, exp.Schema):
            target = target.this
        self.write(target)

    def create(self, node: exp.Create) -> None:
        info = self.info
        kind = str(node.args.get("kind") or "").upper()
        info.kind = f"create {kind.lower()}"
        target = node.this.this if isinstance(node.this, exp.Schema) else node.this
        props = node.args.get("properties")
        if kind == "FUNCTION":
            info.deny_class("CREATE FUNCTION")
            return
        if node.find(exp.LocationProperty):
            info.deny_class("LOCATION")
        if props is not None and any(_is_path_option(p) for p in props.find_all(exp.Property)):
            info.deny_class("OPTIONS (path ...)")
        provider = props.find(exp.FileFormatProperty) if props is not None else None
        if provider is not None and provider.this is not None:
            name = provider.this.name.lower()
            if name not in TABLE_PROVIDERS:
                info.deny_class(f"data source {name} (it reaches outside the warehouse)")
        if kind in ("DATABASE", "SCHEMA"):
            info.databases_written.add(target.name.lower())
            return
        temporary = any(isinstance(p, exp.TemporaryProperty) for p in (props.expressions if props else []))
        if kind == "VIEW" and temporary:
            if target.args.get("db"):
                info.fail("a temporary view cannot have a database")
            info.temp_views_created.add(target.name.lower())
            return
        if kind not in ("TABLE", "VIEW"):
            info.fail(f"CREATE {kind} is not understood")
            return
        self.write(target)
        like = props.find(exp.LikeProperty) if props is not None else None
        if like is not None:
            self.read(like.this)

    def drop(self, node: exp.Drop) -> None:
        info = self.info
        kind = str(node.args.get("kind") or "").upper()
        info.kind = f"drop {kind.lower()}"
        for table in node.args.get("tables") or [node.this]:
            if kind in ("DATABASE", "SCHEMA"):
                info.databases_written.add(table.name.lower())
            elif kind == "FUNCTION":
                info.deny_class("DROP FUNCTION")
            elif kind == "VIEW" and not table.args.get("db") and table.name.lower() in self.temp_views:
                info.temp_views_dropped.add(table.name.lower())
            elif kind in ("TABLE", "VIEW"):
                self.write(table)
            else:
                info.fail(f"DROP {kind} is not understood")

    def set(self, node: exp.Set) -> None:
        info = self.info
        info.kind = "set"
        text = strip_leading_comments(info.text).strip().rstrip(";")
        match = re.match(r"(?is)^\s*set(?:\s+(var|variable)\b)?\s*(.*?)\s*(=|$)", text)
        if match is None:
            info.fail("SET is not understood")
            return
        if match.group(1):
            info.kind = "set variable"
            return
        key = match.group(2).strip().strip("`")
        if key:
            info.conf_keys.append(key)

    def rename_target(self, source: exp.Expr, target: exp.Expr) -> None:
        """RENAME TO creates the new name: a write. Unqualified, it stays in the source's database."""
        if isinstance(target, exp.Table) and not target.args.get("db") and isinstance(source, exp.Table):
            source_ref = self.resolve(source)
            if source_ref is None:
                return
            target = exp.Table(this=target.this.copy(), db=exp.to_identifier(source_ref.db))
        self.write(target)

    # -- tables -----------------------------------------------------------------------------------

    def write(self, node: exp.Expr | None) -> None:
        ref = self.resolve(node)
        if ref is not None:
            self.info.writes.add(ref)

    def read(self, node: exp.Expr | None) -> None:
        ref = self.resolve(node)
        if ref is not None:
            self.info.reads.add(ref)

    def resolve(self, node: exp.Expr | None) -> TableRef | None:
        if isinstance(node, exp.Schema):
            node = node.this
        if not isinstance(node, exp.Table):
            self.info.fail(f"could not resolve the table in {node.sql(dialect='spark') if node else 'nothing'}")
            return None
        if isinstance(node.this, exp.Anonymous) and node.this.name.upper() == "IDENTIFIER":
            literal = node.this.expressions[0] if node.this.expressions else None
            if not isinstance(literal, exp.Literal) or not literal.is_string:
                self.info.deny_class("IDENTIFIER() with a non-literal argument")
                return None
            return resolve_identifier_literal(literal.this, self.db, self.info)
        return table_ref(node, self.db, self.info)

    def query_sources(self, node: exp.Expr) -> None:
        """Record every table a query reads; CTEs and temp views are not tables."""
        for table in node.find_all(exp.Table):
            if self._is_write_target(table) or isinstance(table.parent, exp.JoinHint):
                continue
            if isinstance(table.this, exp.Anonymous) and table.this.name.upper() != "IDENTIFIER":
                name = table.this.name.lower()
                if name not in SAFE_TABLE_FUNCTIONS:
                    self.info.fail(f"table function {name}() is not known to be safe")
                continue
            if table.args.get("db") is not None and table.args["db"].name.lower() in FILE_FORMATS:
                self.info.deny_class(f"direct file access ({table.args['db'].name}.`path`)")
                continue
            if not table.args.get("db") and not table.args.get("catalog"):
                name = table.name.lower()
                if _cte_visible(table, name) or name in self.temp_views:
                    continue
            self.read(table)

    def scan(self, root: exp.Expr) -> None:
        """Checks that apply anywhere in a statement: JVM functions, file sources, every read."""
        for func in root.find_all(exp.Anonymous):
            if func.name.lower() in JVM_FUNCTIONS:
                self.info.deny_class(f"{func.name.lower()}() (reaches the JVM)")
        self.query_sources(root)

    def _is_write_target(self, table: exp.Table) -> bool:
        parent = table.parent
        if isinstance(parent, exp.Schema):
            parent = parent.parent
        if isinstance(parent, exp.Insert | exp.Create | exp.Drop | exp.Alter | exp.TruncateTable | exp.Analyze):
            targets = [parent.this, *(parent.expressions or []), *(parent.args.get("tables") or [])]
            if isinstance(parent.this, exp.Schema):
                targets.append(parent.this.this)
            return any(t is table for t in targets)
        if isinstance(parent, exp.Merge | exp.Update | exp.Delete):
            return parent.this is table
        if isinstance(parent, exp.AlterRename):
            return True  # the new name: written, by the ALTER branch
        if isinstance(parent, exp.Use | exp.Cache | exp.Uncache | exp.Refresh | exp.Describe | exp.Comment):
            return True  # handled by the statement itself
        return isinstance(parent, exp.LikeProperty)


def _cte_visible(table: exp.Table, name: str) -> bool:
    """Is `name` a CTE in scope at this table? A CTE is not visible inside its own definition
    (nor are later ones), unless the WITH is RECURSIVE."""
    child: exp.Expr = table
    node = table.parent
    while node is not None:
        with_ = node.args.get("with_") or node.args.get("with")
        if isinstance(with_, exp.With):
            ctes = list(with_.expressions)
            recursive = bool(with_.args.get("recursive"))
            if child is with_:  # we are inside one of this WITH's definitions
                inner = next((c for c in ctes if c is _ancestor_in(table, ctes)), None)
                visible = ctes if recursive else ctes[: ctes.index(inner)] if inner is not None else []
            else:
                visible = ctes
            if any(c.alias.lower() == name for c in visible):
                return True
        child, node = node, node.parent
    return False


def _ancestor_in(node: exp.Expr, candidates: list[exp.CTE]) -> exp.Expr | None:
    current: exp.Expr | None = node
    while current is not None:
        if any(current is c for c in candidates):
            return current
        current = current.parent
    return None


def _is_path_option(prop: exp.Property) -> bool:
    key = prop.name if prop.this is not None else ""
    return str(key).strip("'\"`").lower() == "path"
