"""A short list of completions; Enter picks one, Escape keeps what was typed."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.screen import ModalScreen
from textual.widgets import OptionList


class CompletionScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    CompletionScreen { align: center middle; background: $background 30%; }
    CompletionScreen OptionList { width: 50; max-height: 16; border: round $primary; }
    """
    BINDINGS = [("escape", "dismiss_none", "Close")]

    def __init__(self, options: list[str]) -> None:
        super().__init__()
        self.options = options

    def compose(self) -> ComposeResult:
        yield OptionList(*(Text(o) for o in self.options))  # names, not markup

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.options[event.option_index])

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
