"""adhoc-sql: the terminal SQL client.

    ┌ catalog ─────┬ editor (tabs) ──────────────────────────────┐
    │ databases    │ SELECT …                                     │
    │  tables      ├ results │ log │─────────────────────────────┤
    │   columns    │ fast Arrow-backed table / the error          │
    ├ session ─────┤                                              │
    │ engine, links├ status: running 3.2 s [████······] Esc cancels┤
    └──────────────┴──────────────────────────────────────────────┘

Every call to the server runs in a worker thread; the UI only ever waits on messages.
"""

from __future__ import annotations

import threading
import time
import webbrowser
from pathlib import Path

import pyarrow as pa
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, TabbedContent, TabPane

from tui.adapter import Connection, Cursor, QueryError, SessionInfo, State
from tui.export import export
from tui.messages import InsertText, RunSql
from tui.profiles import data_dir
from tui.screens.completions import CompletionScreen
from tui.screens.export import ExportScreen
from tui.screens.history import HistoryScreen
from tui.statements import split
from tui.stores import History, HistoryEntry, load_buffers, save_buffers
from tui.widgets.catalog import CatalogTree
from tui.widgets.editor import SqlEditor
from tui.widgets.log_pane import LogPane
from tui.widgets.results import ResultsView
from tui.widgets.session_panel import SessionPanel
from tui.widgets.status_bar import StatusBar

PAGE_ROWS = 10_000


class AdhocSqlApp(App[None]):
    TITLE = "adhoc-sql"
    CSS = """
    #sidebar { width: 34; border-right: solid $primary-darken-2; }
    #main { width: 1fr; }
    SqlEditor { height: 40%; }
    #lower { height: 1fr; }
    """
    BINDINGS = [
        Binding("f5", "run", "Run", priority=True),
        Binding("ctrl+enter", "run", "Run", show=False, priority=True),
        Binding("f6", "run_all", "Run all", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
        Binding("f7", "fetch_more", "More rows", priority=True),
        Binding("f8", "format", "Format", priority=True),
        Binding("ctrl+space", "complete", "Complete", priority=True),
        Binding("ctrl+@", "complete", "Complete", show=False, priority=True),  # what terminals send for it
        Binding("f2", "history", "History", priority=True),
        Binding("ctrl+e", "export", "Export", priority=True),
        Binding("ctrl+n", "new_buffer", "New tab", priority=True),
        Binding("ctrl+w", "close_buffer", "Close tab", show=False, priority=True),
        Binding("ctrl+y", "copy_cell", "Copy cell", priority=True),
        Binding("ctrl+r", "copy_row", "Copy row", show=False, priority=True),
        Binding("ctrl+o", "open_ui", "Spark UI", priority=True),
        Binding("ctrl+g", "open_logs", "Logs", show=False, priority=True),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, connection: Connection, *, http_url: str = "", state_dir: Path | None = None) -> None:
        super().__init__()
        self.connection = connection
        self.http_url = http_url
        self.state_dir = state_dir or data_dir()
        self.history = History(self.state_dir / "history.jsonl")
        self.names: set[str] = set()
        self.cursor: Cursor | None = None  # the statement running now
        self._last_cursor: Cursor | None = None  # the last finished one: F7 fetches more of it
        self.running = False
        self._cancel = threading.Event()
        self.session: SessionInfo | None = None
        self._generation = connection.generation

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="sidebar"):
                yield CatalogTree(self.connection, self.names.update, id="catalog")
                yield SessionPanel(id="session")
            with Vertical(id="main"):
                yield SqlEditor(load_buffers(self.state_dir / "buffers.json"), id="editor")
                with TabbedContent(id="lower"):
                    with TabPane("Results", id="results-tab"):
                        yield ResultsView(id="results")
                    with TabPane("Log", id="log-tab"):
                        yield LogPane(id="log")
                yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SqlEditor).area.focus()
        self.load_session()

    @work(thread=True, group="session")
    def load_session(self) -> None:
        info = self.connection.session_info()
        self.session = info
        self.call_from_thread(self.query_one(SessionPanel).show, info)

    # -- running statements -------------------------------------------------------------------------

    def action_run(self) -> None:
        self.post_message(RunSql(self.query_one(SqlEditor).statement_to_run()))

    def action_run_all(self) -> None:
        self.post_message(RunSql(self.query_one(SqlEditor).whole_buffer()))

    @on(RunSql)
    def _run(self, message: RunSql) -> None:
        statements = split(message.sql)
        if not statements:
            self.notify("nothing to run", severity="warning")
            return
        if self.running:
            self.notify("a query is still running (Esc cancels it)", severity="warning")
            return
        self.running = True
        self._cancel.clear()
        self.run_statements(statements)

    @work(thread=True, exclusive=True, group="query")
    def run_statements(self, statements: list[str]) -> None:
        try:
            for statement in statements:
                if not self._run_one(statement) or self._cancel.is_set():
                    break
        finally:
            self.running = False
            self.cursor = None
            if self.connection.generation != self._generation:  # reconnected: a new session
                self._generation = self.connection.generation
                self.call_from_thread(self.query_one(LogPane).add, "── reconnected: a new session on the server")
                self.call_from_thread(self.load_session)
            elif self.session is not None and self.session.cost is not None:
                self.call_from_thread(self.load_session)  # a K8s session's cost grows as it runs

    def _run_one(self, statement: str) -> bool:
        """Run one statement to its end; False stops the rest of the batch."""
        status_bar, log = self.query_one(StatusBar), self.query_one(LogPane)
        started, t0 = time.time(), time.monotonic()
        if self._last_cursor is not None:
            self._last_cursor.close()
            self._last_cursor = None
        self.call_from_thread(log.add, f"── {' '.join(statement.split())[:200]}")
        self.call_from_thread(status_bar.running, "submitting")
        try:
            cursor = self.connection.execute(statement)
        except QueryError as e:
            return self._failed(statement, started, t0, e)
        self.cursor = cursor
        self.call_from_thread(status_bar.running, "running")
        try:
            while True:
                status = cursor.poll()
                for line in cursor.logs():
                    self.call_from_thread(log.add, line)
                if status.state is not State.RUNNING:
                    break
                if self._cancel.is_set():
                    cursor.cancel()
                self.call_from_thread(status_bar.running, status.detail.lower() or "running", status.progress)
                time.sleep(0.1)
            if status.state is State.ERROR:
                return self._failed(statement, started, t0, status.error or QueryError("the query failed"))
            if status.state is State.CANCELED:
                self._record(statement, started, t0, "cancelled")
                self.call_from_thread(self.query_one(ResultsView).show_message, "cancelled")
                self.call_from_thread(status_bar.done, f"cancelled after {time.monotonic() - t0:.1f} s")
                return False
            columns = cursor.columns()
            table = cursor.fetch(PAGE_ROWS) if columns else None
        except QueryError as e:
            return self._failed(statement, started, t0, e)
        elapsed = time.monotonic() - t0
        if table is None:
            self.call_from_thread(self.query_one(ResultsView).show_message, f"done in {elapsed:.2f} s (no rows)")
            outcome = "ok"
        else:
            more = table.num_rows == PAGE_ROWS
            self._last_cursor = cursor
            self.call_from_thread(self._show, table, columns, more)  # type: ignore[arg-type]
            outcome = f"ok: {table.num_rows:,}{'+' if more else ''} rows"
        self._record(statement, started, t0, outcome)
        self.call_from_thread(status_bar.done, f"✓ {outcome} in {elapsed:.2f} s")
        return True

    async def _show(self, table: pa.Table, columns: list[object], more: bool) -> None:
        await self.query_one(ResultsView).show(table, columns, more)  # type: ignore[arg-type]
        self.query_one("#lower", TabbedContent).active = "results-tab"

    def _failed(self, statement: str, started: float, t0: float, error: QueryError) -> bool:
        self._record(statement, started, t0, f"error [{error.sql_state or 'HY000'}]: {error.message[:200]}")
        self.call_from_thread(self.query_one(ResultsView).show_error, error)
        self.call_from_thread(self.query_one(StatusBar).done, f"✗ {error.sql_state or 'error'} after "
                              f"{time.monotonic() - t0:.2f} s")  # fmt: skip
        return False

    def _record(self, statement: str, started: float, t0: float, outcome: str) -> None:
        self.history.add(HistoryEntry(statement, started, round(time.monotonic() - t0, 3), outcome))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":  # Esc belongs to dialogs and the editor unless a query runs
            return self.running and self.screen is self.screen_stack[0]
        return True

    def action_cancel(self) -> None:
        self._cancel.set()
        self.query_one(StatusBar).running("cancelling")
        cursor = self.cursor
        if cursor is not None:
            self.run_worker(cursor.cancel, thread=True, group="cancel")

    @work(thread=True, exclusive=True, group="query")
    def action_fetch_more(self) -> None:
        cursor, results = self._last_cursor, self.query_one(ResultsView)
        if cursor is None or results.table is None:
            self.call_from_thread(self.notify, "no more rows to fetch")
            return
        try:
            page = cursor.fetch(PAGE_ROWS)
        except QueryError as e:
            self.call_from_thread(self.notify, e.message, severity="error")
            return
        if page is None:
            self.call_from_thread(self.notify, "that was all")
            return
        table = pa.concat_tables([results.table, page.cast(results.table.schema)])
        more = page.num_rows == PAGE_ROWS
        self.call_from_thread(self._show, table, results.columns, more)  # type: ignore[arg-type]
        self.call_from_thread(self.query_one(StatusBar).done, f"✓ {table.num_rows:,}{'+' if more else ''} rows fetched")

    # -- editor, catalog, history ---------------------------------------------------------------

    def action_format(self) -> None:
        self.query_one(SqlEditor).format_buffer()

    def action_complete(self, load_columns: bool = True) -> None:
        editor = self.query_one(SqlEditor)
        qualifier = editor.qualifier()
        if qualifier and load_columns:  # "orders.am": the columns of orders, loaded if nobody opened it yet
            catalog = self.query_one(CatalogTree)
            table = catalog.table_node(qualifier)
            if table is not None and not table.children:
                catalog.load_columns(table, lambda: self.action_complete(load_columns=False))
                return
        options = editor.complete(self.names)
        if options:
            self.push_screen(CompletionScreen(options), lambda word: editor.replace_word(word) if word else None)

    async def action_new_buffer(self) -> None:
        await self.query_one(SqlEditor).new_buffer()

    async def action_close_buffer(self) -> None:
        await self.query_one(SqlEditor).close_buffer()

    @on(InsertText)
    def _insert(self, message: InsertText) -> None:
        self.query_one(SqlEditor).insert(message.text)

    def action_history(self) -> None:
        def rerun(sql: str | None) -> None:
            if sql:
                self.query_one(SqlEditor).area.text = sql
                self.post_message(RunSql(sql))

        self.push_screen(HistoryScreen(self.history), rerun)

    def action_export(self) -> None:
        table = self.query_one(ResultsView).table
        if table is None:
            self.notify("no result to export", severity="warning")
            return

        def write(path: str | None) -> None:
            if path:
                try:
                    self.notify(f"exported {table.num_rows:,} rows to {export(table, path)}")
                except (ValueError, OSError) as e:
                    self.notify(str(e), title="Export failed", severity="error")

        self.push_screen(ExportScreen(), write)

    def action_copy_cell(self) -> None:
        self.copy_to_clipboard(self.query_one(ResultsView).current_cell())
        self.notify("cell copied")

    def action_copy_row(self) -> None:
        self.copy_to_clipboard(self.query_one(ResultsView).current_row())
        self.notify("row copied")

    def action_open_ui(self) -> None:
        self._open(self.session.spark_ui_url if self.session else "", "Spark UI")

    def action_open_logs(self) -> None:
        self._open(self.session.logs_url if self.session else "", "logs")

    def _open(self, url: str, what: str) -> None:
        if not url:
            self.notify(f"no {what} link for this session", severity="warning")
            return
        webbrowser.open(url)
        self.notify(f"opening {url}")

    async def action_quit(self) -> None:
        save_buffers(self.state_dir / "buffers.json", self.query_one(SqlEditor).buffers())
        self.exit()
