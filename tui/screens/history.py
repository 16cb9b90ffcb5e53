"""History: every statement run, searchable; Enter puts one back into the editor and runs it."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from tui.stores import History, HistoryEntry


class HistoryScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    HistoryScreen { align: center middle; }
    HistoryScreen > Vertical { width: 90%; height: 80%; border: thick $primary; background: $surface; }
    HistoryScreen OptionList { height: 1fr; }
    """
    BINDINGS = [("escape", "dismiss_none", "Close")]

    def __init__(self, history: History) -> None:
        super().__init__()
        self.history = history
        self._shown: list[HistoryEntry] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Input(placeholder="search history…", id="history-search")
            yield OptionList(id="history-list")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    @on(Input.Changed)
    def _search(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted)
    def _pick_first(self) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            self.dismiss(self._sql_of(options.get_option_at_index(options.highlighted or 0)))

    def _fill(self, text: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        # Option ids must be unique and one statement is often run many times: ids are positions.
        self._shown = self.history.search(text)[:500]
        for i, entry in enumerate(self._shown):
            one_line = " ".join(entry.sql.split())
            label = f"{entry.when()}  {entry.duration_s:6.2f} s  {entry.outcome[:30]:<30}  {one_line[:120]}"
            options.add_option(Option(Text(label), id=str(i)))  # Text: "arr[0]" is SQL, not markup
        if options.option_count:
            options.highlighted = 0

    def _sql_of(self, option: Option) -> str:
        return self._shown[int(option.id or 0)].sql

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._sql_of(event.option))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
