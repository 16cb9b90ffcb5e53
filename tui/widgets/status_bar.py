"""One line: what is running, for how long, how far along, and what the last run did."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static


class StatusBar(Static):
    DEFAULT_CSS = "StatusBar { height: 1; background: $panel; padding: 0 1; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__("ready", **kwargs)  # type: ignore[arg-type]
        self._started: float | None = None
        self._state = ""
        self._progress: float | None = None

    def on_mount(self) -> None:
        self.set_interval(0.2, self._tick)

    def running(self, state: str, progress: float | None = None) -> None:
        if self._started is None:
            self._started = time.monotonic()
        self._state, self._progress = state, progress
        self._tick()

    def done(self, message: str) -> None:
        self._started = None
        self.update(Text(message))

    def _tick(self) -> None:
        if self._started is None:
            return
        elapsed = time.monotonic() - self._started
        bar = ""
        if self._progress is not None:
            filled = int(self._progress * 20)
            bar = f" [{'█' * filled}{'·' * (20 - filled)}] {self._progress:.0%}"
        self.update(Text(f"⏳ {self._state} {elapsed:5.1f} s{bar}   Esc cancels"))
