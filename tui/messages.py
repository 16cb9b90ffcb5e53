"""What widgets tell the app."""

from __future__ import annotations

from textual.message import Message


class RunSql(Message):
    """Run these statements (from the editor, the history, or the catalog)."""

    def __init__(self, sql: str) -> None:
        super().__init__()
        self.sql = sql


class InsertText(Message):
    """Put this text into the editor at the cursor (a name picked in the catalog)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
