"""The whole TUI driven by Textual's Pilot against the fake database."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from textual.widgets import Input, OptionList, Static, TextArea, Tree
from textual_fastdatatable import DataTable

from tests.tui.fake import FakeConnection
from tui.app import PAGE_ROWS, AdhocSqlApp
from tui.widgets.log_pane import LogPane
from tui.widgets.results import ResultsView
from tui.widgets.session_panel import SessionPanel
from tui.widgets.status_bar import StatusBar


def make(tmp_path: Path) -> tuple[AdhocSqlApp, FakeConnection]:
    conn = FakeConnection()
    return AdhocSqlApp(conn, state_dir=tmp_path), conn


async def settle(pilot: object, app: AdhocSqlApp, seconds: float = 5.0) -> None:
    """Wait until no query runs (workers finish in threads)."""
    for _ in range(int(seconds / 0.05)):
        await pilot.pause(0.05)  # type: ignore[attr-defined]
        if not app.running:
            await pilot.pause(0.1)  # type: ignore[attr-defined]
            return
    raise AssertionError("the query did not finish")


def summary(app: AdhocSqlApp) -> str:
    return str(app.query_one("#result-summary", Static).render())


async def test_run_statement_under_cursor(tmp_path: Path) -> None:
    app, conn = make(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        area = app.query_one(TextArea)
        area.text = "SELECT 3;\nSELECT 5;\n"
        area.cursor_location = (1, 3)
        await pilot.press("f5")
        await settle(pilot, app)
        assert conn.executed == ["SELECT 5"]
        assert "5 rows" in summary(app)
        grid = app.query_one(DataTable)
        assert grid.row_count == 5
        log = "\n".join(app.query_one(LogPane).text_lines)
        assert "[adhoc] session fake" in log
        assert "ok: 5 rows" in str(app.query_one(StatusBar).render())


async def test_run_all_and_error_stops_the_batch(tmp_path: Path) -> None:
    app, conn = make(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        app.query_one(TextArea).text = "SELECT 1; FAIL now; SELECT 2"
        await pilot.press("f6")
        await settle(pilot, app)
        assert conn.executed == ["SELECT 1", "FAIL now"]
        assert "Error (sqlState 42P01)" in summary(app)
        # the engine's words, brackets and all: not taken for markup
        shown = str(app.query_one("#result-error", Static).render())
        assert "[TABLE_OR_VIEW_NOT_FOUND] boom: 'UnresolvedRelation [nope], [], false" in shown


async def test_permission_refusal_reads_as_one(tmp_path: Path) -> None:
    app, _ = make(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        app.query_one(TextArea).text = "DENY this"
        await pilot.press("f5")
        await settle(pilot, app)
        assert "Permission denied (sqlState 42000)" in summary(app)
        assert "may not read hr.salaries" in str(app.query_one("#result-error", Static).render())


async def test_escape_cancels_a_running_query(tmp_path: Path) -> None:
    app, conn = make(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        app.query_one(TextArea).text = "SLOW query"
        await pilot.press("f5")
        await pilot.pause(0.5)
        assert app.running
        await pilot.press("escape")
        await settle(pilot, app)
        assert conn.cursors[-1].cancelled.is_set()
        assert "cancelled" in summary(app)
        assert app.history.entries[-1].outcome == "cancelled"


async def test_fetch_more_pages(tmp_path: Path) -> None:
    app, _ = make(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        app.query_one(TextArea).text = f"SELECT {PAGE_ROWS + 7}"
        await pilot.press("f5")
        await settle(pilot, app)
        assert f"{PAGE_ROWS:,} rows (more" in summary(app)
        await pilot.press("f7")
        for _ in range(50):
            await pilot.pause(0.05)
            if f"{PAGE_ROWS + 7:,} rows" in summary(app):
                break
        assert f"{PAGE_ROWS + 7:,} rows" in summary(app)
        assert app.query_one(ResultsView).table.num_rows == PAGE_ROWS + 7  # type: ignore[union-attr]
        await pilot.pause(0.1)
        assert f"{PAGE_ROWS + 7:,} rows fetched" in str(app.query_one(StatusBar).render())


async def test_export_csv_json_parquet(tmp_path: Path) -> None:
    app, _ = make(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        app.query_one(TextArea).text = "SELECT 4"
        await pilot.press("f5")
        await settle(pilot, app)
        for name in ("out.csv", "out.json", "out.parquet"):
            await pilot.press("ctrl+e")
            await pilot.pause(0.1)
            app.screen.query_one(Input).value = str(tmp_path / name)
            await pilot.press("enter")
            await pilot.pause(0.2)
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == '"id","name"'
    assert json.loads((tmp_path / "out.json").read_text())[3] == {"id": 3, "name": "row 3"}
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 4


async def test_history_is_persisted_searchable_and_reruns(tmp_path: Path) -> None:
    app, _ = make(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        for sql in ("SELECT 2", "SELECT 9", "SELECT 2", "SELECT arr[0] FROM t"):  # runs repeat; SQL has brackets
            app.query_one(TextArea).text = sql
            await pilot.press("f5")
            await settle(pilot, app)
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["sql"] for line in lines] == ["SELECT 2", "SELECT 9", "SELECT 2", "SELECT arr[0] FROM t"]
    app2, conn2 = make(tmp_path)
    async with app2.run_test(size=(140, 40)) as pilot:
        await pilot.press("f2")
        await pilot.pause(0.2)
        shown = app2.screen.query_one(OptionList)
        assert shown.option_count == 4
        assert "SELECT arr[0] FROM t" in str(shown.get_option_at_index(0).prompt)
        await pilot.press(*"select 2")
        await pilot.pause(0.1)
        assert shown.option_count == 2
        await pilot.press("enter")
        await settle(pilot, app2)
        assert conn2.executed == ["SELECT 2"]


async def test_buffers_survive_a_restart(tmp_path: Path) -> None:
    app, _ = make(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        app.query_one(TextArea).text = "SELECT 'first tab'"
        await pilot.press("ctrl+n")
        await pilot.pause(0.2)
        app.query_one("#editor").area.text = "SELECT 'second tab'"  # type: ignore[attr-defined]
        await pilot.press("ctrl+n")
        await pilot.pause(0.2)
        await pilot.press("ctrl+w")  # closing a tab leaves the keyboard in the next one
        await pilot.pause(0.2)
        await pilot.press("end", *" -- kept")
        await pilot.press("ctrl+q")
    app2, _ = make(tmp_path)
    async with app2.run_test(size=(140, 40)):
        texts = [a.text for a in app2.query(TextArea)]
        assert texts in (["SELECT 'first tab'", "SELECT 'second tab' -- kept"],
                         ["SELECT 'first tab' -- kept", "SELECT 'second tab'"])  # fmt: skip


async def test_catalog_loads_lazily_and_inserts_names(tmp_path: Path) -> None:
    app, _ = make(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        tree = app.query_one("#catalog", Tree)
        await pilot.pause(0.3)
        databases = [str(n.label) for n in tree.root.children]
        assert databases == ["default", "sales"]
        sales = tree.root.children[1]
        sales.expand()
        await pilot.pause(0.3)
        assert [str(n.label) for n in sales.children] == ["orders", "customers"]
        sales.children[0].expand()
        await pilot.pause(0.3)
        assert [str(n.label) for n in sales.children[0].children] == ["id bigint", "amount double"]
        tree.focus()
        tree.move_cursor(sales.children[0])
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert "sales.orders" in app.query_one(TextArea).text
        # names seen in the catalog complete in the editor
        area = app.query_one(TextArea)
        area.text = "SELECT * FROM custo"
        area.cursor_location = (0, len(area.text))
        area.focus()
        await pilot.press("ctrl+space")
        assert area.text == "SELECT * FROM customers"
        # several candidates: a list to pick from
        area.text = "SELECT * FROM sales.c"
        area.cursor_location = (0, len(area.text))
        app.names.add("cohorts")
        await pilot.press("ctrl+space")
        await pilot.pause(0.1)
        await pilot.press("down", "enter")
        await pilot.pause(0.1)
        assert area.text == "SELECT * FROM sales.customers"
        # the session's database opened at start: its tables complete without a click
        assert [str(n.label) for n in tree.root.children[0].children] == ["events"]
        # after "table.", that table's columns, loaded on demand
        assert "event_time" not in app.names
        area.text = "SELECT events.event_t"
        area.cursor_location = (0, len(area.text))
        await pilot.press("ctrl+@")  # what a terminal sends for Ctrl+Space
        await pilot.pause(0.3)
        assert area.text == "SELECT events.event_time"


async def test_session_panel_and_format(tmp_path: Path) -> None:
    app, _ = make(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause(0.3)
        panel = str(app.query_one(SessionPanel).render())
        assert "alice@fake:10009" in panel and "engine fake-engine (route local)" in panel
        assert "http://spark-ui.example/1" in panel
        area = app.query_one(TextArea)
        area.text = "select a,b from t where x=1"
        await pilot.press("f8")
        assert area.text.startswith("SELECT a,\n       b\nFROM t\nWHERE x = 1")
