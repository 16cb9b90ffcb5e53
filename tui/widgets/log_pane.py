"""The operation log: the `[adhoc]` lines and the engine's own, statement after statement."""

from __future__ import annotations

from textual.widgets import RichLog


class LogPane(RichLog):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(wrap=True, markup=False, max_lines=20_000, **kwargs)  # type: ignore[arg-type]
        self.text_lines: list[str] = []  # kept as plain text too: for copying, searching, tests

    def add(self, line: str) -> None:
        self.text_lines.append(line)
        del self.text_lines[:-20_000]
        self.write(line)
