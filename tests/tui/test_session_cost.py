"""The session panel shows a K8s session's cost so far, labelled as an estimate, and refreshes it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from textual.widgets import TextArea

from tests.tui.fake import FakeConnection
from tests.tui.test_app import settle
from tui.adapter import SessionInfo
from tui.app import AdhocSqlApp
from tui.widgets.session_panel import SessionPanel


class K8sConnection(FakeConnection):
    def __init__(self) -> None:
        super().__init__()
        self.cost = 0.1234

    def session_info(self) -> SessionInfo:
        info = dataclasses.replace(super().session_info(), route="k8s", engine="k8s-main", cost=self.cost)
        self.cost += 0.5
        return info


async def test_the_panel_shows_the_cost_estimate_and_updates_it_after_a_statement(tmp_path: Path) -> None:
    conn = K8sConnection()
    app = AdhocSqlApp(conn, state_dir=tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if app.query_one(SessionPanel).info is not None:
                break
        panel = str(app.query_one(SessionPanel).render())
        assert "cost so far ≈ 0.1234" in panel and "estimate from pod requests" in panel
        app.query_one(TextArea).text = "SELECT 1;"
        await pilot.press("f5")
        await settle(pilot, app)
        for _ in range(100):
            await pilot.pause(0.05)
            if "0.6234" in str(app.query_one(SessionPanel).render()):
                break
        assert "cost so far ≈ 0.6234" in str(app.query_one(SessionPanel).render())


async def test_no_cost_line_for_other_sessions(tmp_path: Path) -> None:
    app = AdhocSqlApp(FakeConnection(), state_dir=tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if app.query_one(SessionPanel).info is not None:
                break
        assert "cost" not in str(app.query_one(SessionPanel).render())
