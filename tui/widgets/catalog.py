"""The catalog browser: databases, their tables, their columns, each level loaded when opened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from tui.adapter import Column, Connection, QueryError
from tui.messages import InsertText


@dataclass(frozen=True)
class Node:
    kind: str  # "database" | "table" | "column"
    database: str
    table: str = ""
    name: str = ""

    def qualified(self) -> str:
        if self.kind == "database":
            return self.database
        if self.kind == "table":
            return f"{self.database}.{self.table}"
        return self.name


class CatalogTree(Tree[Node]):
    DEFAULT_CSS = "CatalogTree { width: 100%; height: 1fr; }"
    BINDINGS = [("enter", "insert_name", "Insert name")]

    def __init__(self, connection: Connection, on_names: Callable[[set[str]], None], **kwargs: object) -> None:
        super().__init__("catalog", **kwargs)  # type: ignore[arg-type]
        self.connection = connection
        self.on_names = on_names
        self.show_root = False
        self.current_database = "default"

    def table_node(self, name: str) -> TreeNode[Node] | None:
        """The loaded table called `name` ("t" or "db.t"), current database first."""
        database, _, table = name.rpartition(".")
        for db in sorted(self.root.children, key=lambda n: n.data is None or n.data.database != self.current_database):
            for child in db.children:
                data = child.data
                if (
                    data is not None
                    and data.table.lower() == table.lower()
                    and (not database or data.database.lower() == database.lower())
                ):
                    return child
        return None

    def load_columns(self, node: TreeNode[Node], then: Callable[[], None]) -> None:
        """Load a table's columns (completion asked for them) and call `then` once they are in."""
        if node.children:
            then()
        elif node.data is not None:
            self._load(node, node.data, then)

    def on_mount(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="catalog")
    def reload(self) -> None:
        try:
            databases = self.connection.databases()
        except QueryError as e:
            self.app.call_from_thread(self.root.add_leaf, Text(f"cannot list databases: {e.message}", style="red"))
            return
        self.app.call_from_thread(self._fill, self.root, [Node("database", d) for d in databases])
        self.app.call_from_thread(self._open_current)

    def _open_current(self) -> None:
        # The session's database opens at start, as in Harlequin: its tables show and complete.
        for child in self.root.children:
            if child.data is not None and child.data.database == self.current_database:
                child.expand()

    def _fill(self, parent: object, nodes: list[Node]) -> None:
        assert isinstance(parent, TreeNode)
        parent.remove_children()
        for node in nodes:
            if node.kind == "column":
                parent.add_leaf(Text.assemble(node.name, " ", (node.table, "dim")), data=node)
            else:
                parent.add(Text(node.table or node.database), data=node)  # names are not markup
        self.on_names({n.name or n.table or n.database for n in nodes})

    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[Node]) -> None:
        node = event.node.data
        if node is not None and not event.node.children:
            self._load(event.node, node)

    @work(thread=True, group="catalog")
    def _load(self, tree_node: object, node: Node, then: Callable[[], None] | None = None) -> None:
        try:
            if node.kind == "database":
                children = [Node("table", node.database, t) for t in self.connection.tables(node.database)]
            else:
                cols: list[Column] = self.connection.columns(node.database, node.table)
                # a column's "table" slot shows its type
                children = [Node("column", node.database, c.type.lower(), c.name) for c in cols]
        except QueryError as e:
            self.app.call_from_thread(self.notify, e.message, title="Catalog", severity="error")
            return
        self.app.call_from_thread(self._fill, tree_node, children)
        if then is not None:
            self.app.call_from_thread(then)

    def action_insert_name(self) -> None:
        node = self.cursor_node
        if node is not None and node.data is not None:
            self.post_message(InsertText(node.data.qualified()))
