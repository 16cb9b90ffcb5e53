"""Snapshots of the main screens (SVG, pytest-textual-snapshot), against the fake database.

Update them after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import TextArea

from tests.tui.fake import FakeConnection
from tests.tui.test_app import settle
from tui.app import AdhocSqlApp
from tui.stores import save_buffers
from tui.widgets.status_bar import StatusBar

SIZE = (140, 36)


def app(tmp_path: Path, sql: str) -> AdhocSqlApp:
    save_buffers(tmp_path / "buffers.json", [sql])
    return AdhocSqlApp(FakeConnection(), state_dir=tmp_path)


def steady(status: str) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause(0.3)  # catalog and session panel loaded
        if status:
            await pilot.press("f6")
            await settle(pilot, pilot.app)  # type: ignore[arg-type]
        pilot.app.query_one(StatusBar).done(status or "ready")  # elapsed times would differ run to run
        pilot.app.query_one(TextArea).cursor_location = (0, 0)
        pilot.app.set_focus(None)  # a blinking cursor is on in one frame and off in the next
        await pilot.pause(0.1)

    return run_before


def test_main_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(app(tmp_path, "SELECT *\nFROM sales.orders\nWHERE amount > 100"), terminal_size=SIZE,
                        run_before=steady(""))  # fmt: skip


def test_result_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(app(tmp_path, "SELECT 12"), terminal_size=SIZE, run_before=steady("done"))


def test_permission_refusal_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(app(tmp_path, "DENY this"), terminal_size=SIZE, run_before=steady("refused"))
