"""The statement walk: which tables a parsed statement reads and writes, as Spark resolves them.

Names reach here already plain (IDENTIFIER('x') was inlined on the tokens); temporary views and
CTEs are not tables (a temp view's query was checked when it was created).
"""

from __future__ import annotations

import re

from sqlglot import exp

from adhoc.authz.names import TableRef, table_ref
from adhoc.authz.sql_commands import strip_leading_comments
from adhoc.authz.statement import StatementInfo

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


class Walker:
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
            self.alter(node)
        elif isinstance(node, exp.Set):
            self.set(node)
        elif isinstance(node, exp.Describe):
            info.kind = "describe"
            self.read_relation(node.this)
        elif isinstance(node, exp.Cache):
            info.kind = "cache"
            if node.expression is not None:
                self.query_sources(node.expression)
                if self.temp_view_name(node.this, known=False) is None:
                    info.fail("CACHE TABLE ... AS SELECT names a temporary view: it cannot be qualified")
                info.temp_views_created.add(node.this.name.lower())
            else:
                self.read_relation(node.this)
        elif isinstance(node, exp.Uncache | exp.Refresh):
            info.kind = node.key
            if isinstance(node.this, exp.Table):
                self.read_relation(node.this)
        elif isinstance(node, exp.Merge | exp.Update | exp.Delete | exp.TruncateTable):
            info.kind = node.key
            targets = node.expressions if isinstance(node, exp.TruncateTable) else [node.this]
            for target in targets:
                self.write_existing(target)
        elif isinstance(node, exp.Analyze):
            info.kind = "analyze"
            for table in node.args.get("tables") or [node.this]:
                self.write_existing(table)
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
                self.write_existing(node.this)
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
        self.write_existing(target)

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
        if temporary and kind in ("VIEW", "TABLE"):
            self.create_temp_view(node, target, kind, provider is not None)
            return
        if kind not in ("TABLE", "VIEW"):
            info.fail(f"CREATE {kind} is not understood")
            return
        self.write(target)
        like = props.find(exp.LikeProperty) if props is not None else None
        if like is not None:
            self.read(like.this)

    def create_temp_view(self, node: exp.Create, target: exp.Expr, kind: str, data_source: bool) -> None:
        """CREATE [OR REPLACE] [GLOBAL] TEMPORARY VIEW, and CREATE TEMPORARY TABLE ... USING (Spark
        makes that a temporary view too). The name joins the session's temp views once the engine
        has created it."""
        info = self.info
        props = node.args.get("properties")
        if props is not None and any(isinstance(p, exp.GlobalProperty) for p in props.expressions):
            # Spark puts it in global_temp.<name>, never resolved unqualified, readable by every
            # session of the engine: a publication to whoever shares it, which no grant scopes.
            info.kind = "create global temporary view"
            info.deny_class("CREATE GLOBAL TEMPORARY VIEW (every session of the engine can read it)")
            return
        info.kind = "create temporary view"
        if data_source or kind == "TABLE":
            info.deny_class("a data source temporary view (CREATE TEMPORARY VIEW|TABLE ... USING reads what its "
                            "options name, not a table the policy covers)")  # fmt: skip
        name = self.temp_view_name(target, known=False)
        if name is None:
            info.fail("a temporary view cannot have a database")
            return
        info.temp_views_created.add(name)

    def alter(self, node: exp.Alter) -> None:
        """ALTER on an unqualified name the session has a temporary view by acts on that view (Spark
        looks for it first): ALTER VIEW tv AS ... and RENAME TO change it and write no table; any
        other action Spark refuses on a view."""
        actions = node.args.get("actions") or []
        view = self.temp_view_name(node.this)
        if view is not None:
            if not actions or not all(isinstance(a, exp.AlterRename | exp.Query) for a in actions):
                self.not_on_temp_view(view)
                return
            for action in actions:
                if isinstance(action, exp.AlterRename):
                    new = self.temp_view_name(action.this, known=False)
                    if new is None:
                        self.info.fail("a temporary view can only be renamed to an unqualified name")
                        return
                    self.info.temp_views_dropped.add(view)
                    self.info.temp_views_created.add(new)
            return
        self.write(node.this)
        for action in actions:
            if isinstance(action, exp.AlterRename):
                self.rename_target(node.this, action.this)

    def drop(self, node: exp.Drop) -> None:
        info = self.info
        kind = str(node.args.get("kind") or "").upper()
        info.kind = f"drop {kind.lower()}"
        for table in node.args.get("tables") or [node.this]:
            if kind in ("DATABASE", "SCHEMA"):
                info.databases_written.add(table.name.lower())
            elif kind == "FUNCTION":
                info.deny_class("DROP FUNCTION")
            elif kind in ("TABLE", "VIEW") and (view := self.temp_view_name(table)) is not None:
                info.temp_views_dropped.add(view)  # Spark drops the session's temp view first, either way
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

    def write_existing(self, node: exp.Expr | None) -> None:
        """The target of INSERT, TRUNCATE, ALTER, ...: Spark resolves an unqualified name to the
        session's temp view first, and then refuses the statement, or (table formats that write
        through views, Delta's UPDATE/DELETE/MERGE) writes a table the gateway cannot see."""
        view = self.temp_view_name(node.this if isinstance(node, exp.Schema) else node)
        if view is not None:
            self.not_on_temp_view(view)
        else:
            self.write(node)

    def not_on_temp_view(self, view: str) -> None:
        self.info.fail(f"{self.info.kind.upper()} on the temporary view {view}: it is no table "
                       "(Spark refuses it, or writes through the view to a table not named here)")  # fmt: skip

    def read(self, node: exp.Expr | None) -> None:
        ref = self.resolve(node)
        if ref is not None:
            self.info.reads.add(ref)

    def read_relation(self, node: exp.Expr | None) -> None:
        """A table or view the statement reads (DESCRIBE, CACHE, ...): a temporary view is no table."""
        if self.temp_view_name(node) is None:
            self.read(node)

    def temp_view_name(self, node: exp.Expr | None, known: bool = True) -> str | None:
        """The temporary view an unqualified name denotes (Spark resolves those before tables)."""
        if not isinstance(node, exp.Table) or node.args.get("db") or node.args.get("catalog"):
            return None
        if not isinstance(node.this, exp.Identifier):
            return None
        name = node.name.lower()
        return name if (name in self.temp_views or not known) else None

    def resolve(self, node: exp.Expr | None) -> TableRef | None:
        if isinstance(node, exp.Schema):
            node = node.this
        if not isinstance(node, exp.Table):
            self.info.fail(f"could not resolve the table in {node.sql(dialect='spark') if node else 'nothing'}")
            return None
        return table_ref(node, self.db, self.info)

    def query_sources(self, node: exp.Expr) -> None:
        """Record every table a query reads; CTEs and temp views are not tables."""
        for table in node.find_all(exp.Table):
            if self._is_write_target(table) or isinstance(table.parent, exp.JoinHint):
                continue
            if isinstance(table.this, exp.Anonymous):
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
