"""The result of the last statement: a fast Arrow-backed table, or the error, plainly."""

from __future__ import annotations

import pyarrow as pa
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_fastdatatable import ArrowBackend, DataTable

from tui.adapter import Column, QueryError


class ResultsView(Vertical):
    DEFAULT_CSS = """
    ResultsView { height: 1fr; }
    ResultsView #result-summary { height: 1; color: $text-muted; }
    ResultsView #result-error { color: $error; padding: 0 1; display: none; }
    ResultsView DataTable { height: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.table: pa.Table | None = None
        self.columns: list[Column] = []

    def compose(self) -> ComposeResult:
        yield Static("no results yet", id="result-summary")
        yield Static("", id="result-error")
        yield DataTable(id="result-table", null_rep="NULL")

    async def show(self, table: pa.Table, columns: list[Column], more: bool) -> None:
        self.table, self.columns = table, columns
        labels: list[str | Text] = [Text.assemble((c.name, "bold"), " ", (c.type.lower(), "dim")) for c in columns]
        await self.query_one(DataTable).remove()
        grid = DataTable(
            id="result-table", backend=ArrowBackend(table), column_labels=labels or None, null_rep="NULL",
            max_column_content_width=60,
        )  # fmt: skip
        await self.mount(grid)
        self._summary(table.num_rows, more)
        self.query_one("#result-error", Static).display = False

    def _summary(self, rows: int, more: bool) -> None:
        text = f"{rows:,} row{'s' if rows != 1 else ''}"
        text += " (more on the server: F7 fetches the next page)" if more else ""
        self.query_one("#result-summary", Static).update(text)

    def show_message(self, text: str) -> None:
        self.table = None
        self.query_one("#result-summary", Static).update(Text(text))
        self.query_one("#result-error", Static).display = False
        self.query_one(DataTable).display = False

    def show_error(self, error: QueryError) -> None:
        self.table = None
        title = "Permission denied" if error.is_permission_denied else "Error"
        state = f" (sqlState {error.sql_state})" if error.sql_state else ""
        self.query_one("#result-summary", Static).update(f"{title}{state}")
        widget = self.query_one("#result-error", Static)
        widget.update(Text(error.reason))  # the engine's words ("[ERROR_CLASS]" is not markup); the title says "denied"
        widget.display = True
        self.query_one(DataTable).display = False

    def current_cell(self) -> str:
        grid = self.query_one(DataTable)
        if self.table is None:
            return ""
        row, column = grid.cursor_coordinate
        value = self.table.column(column)[row].as_py()
        return "" if value is None else str(value)

    def current_row(self) -> str:
        grid = self.query_one(DataTable)
        if self.table is None:
            return ""
        row = self.table.slice(grid.cursor_coordinate.row, 1).to_pylist()[0]
        return "\t".join("" if v is None else str(v) for v in row.values())
