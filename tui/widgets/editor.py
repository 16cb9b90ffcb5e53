"""The SQL editor: several buffers in tabs, syntax highlighting, run/format/complete."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import TabbedContent, TabPane, TextArea

from tui.completion import candidates, common_prefix, word_before
from tui.statements import format_sql, offset_of, statement_at


class SqlEditor(Vertical):
    DEFAULT_CSS = """
    SqlEditor { height: 1fr; }
    SqlEditor TabbedContent { height: 1fr; }
    SqlEditor TabPane { padding: 0; }
    SqlEditor TextArea { height: 1fr; border: none; }
    """

    def __init__(self, buffers: list[str], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._start_buffers = buffers or [""]
        self._count = 0

    def compose(self) -> ComposeResult:
        with TabbedContent():
            for text in self._start_buffers:
                yield self._pane(text)

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one(TabbedContent)

    def _pane(self, text: str) -> TabPane:
        self._count += 1
        area = TextArea(text, language="sql", show_line_numbers=True, tab_behavior="indent", id=f"buffer-{self._count}")
        return TabPane(f"query {self._count}", area, id=f"tab-{self._count}")

    @property
    def area(self) -> TextArea:
        pane = self.tabs.active_pane  # None until the tabs have settled after mounting
        return pane.query_one(TextArea) if pane is not None else self.query(TextArea).first()

    def buffers(self) -> list[str]:
        return [area.text for area in self.query(TextArea)]

    def statement_to_run(self) -> str:
        """The selection if there is one, else the statement under the cursor."""
        area = self.area
        if area.selected_text.strip():
            return area.selected_text
        row, column = area.cursor_location
        return statement_at(area.text, offset_of(area.text, row, column))

    def whole_buffer(self) -> str:
        return self.area.text

    async def new_buffer(self, text: str = "") -> None:
        pane = self._pane(text)
        await self.tabs.add_pane(pane)
        self.tabs.active = pane.id or ""
        pane.query_one(TextArea).focus()

    async def close_buffer(self) -> None:
        if len(self.query(TabPane)) > 1 and self.tabs.active:
            await self.tabs.remove_pane(self.tabs.active)
            # the tab that becomes active is chosen after this refresh: focus its editor then, or
            # the next keystrokes go nowhere
            self.call_after_refresh(lambda: self.area.focus())

    def format_buffer(self) -> None:
        area = self.area
        area.replace(format_sql(area.text), (0, 0), area.document.end)

    def insert(self, text: str) -> None:
        self.area.insert(text)
        self.area.focus()

    def replace_word(self, word: str) -> None:
        """Replace the (partial) word before the cursor, e.g. with a picked completion."""
        area = self.area
        row, column = area.cursor_location
        stem = word_before(area.document.get_line(row)[:column]).split(".")[-1]
        area.replace(word, (row, column - len(stem)), (row, column))
        area.focus()

    def qualifier(self) -> str:
        """What the word before the cursor is qualified by: "sales.orders" for "sales.orders.am"."""
        row, column = self.area.cursor_location
        word = word_before(self.area.document.get_line(row)[:column])
        return word.rpartition(".")[0]

    def complete(self, names: set[str]) -> list[str]:
        """Complete the word before the cursor; returns the candidates when there is no single one."""
        area = self.area
        row, column = area.cursor_location
        line = area.document.get_line(row)[:column]
        word = word_before(line)
        found = candidates(word.split(".")[-1] if "." in word else word, names)
        if not found:
            return []
        stem = word.split(".")[-1] if "." in word else word
        completion = found[0] if len(found) == 1 else common_prefix(found)
        if len(completion) > len(stem):
            area.replace(completion, (row, column - len(stem)), (row, column))
        return [] if len(found) == 1 else found
