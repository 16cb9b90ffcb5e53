"""Shown while the gateway holds the session in its queue: position, wait so far, reason. Esc gives up."""

from __future__ import annotations

import time

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from tui.queue_watch import Background, QueuePlace, QueueWatch


class WaitingApp(App[bool]):
    """Returns True once the session was admitted (or failed: the caller reads the outcome), False
    when the user gave up."""

    BINDINGS = [Binding("escape", "give_up", "Give up waiting"), Binding("ctrl+q", "give_up", "Quit")]
    CSS = "#wait { padding: 1 2; }"

    def __init__(self, connecting: Background, watch: QueueWatch | None) -> None:
        super().__init__()
        self.connecting = connecting
        self.queue_watch = watch
        self.place: QueuePlace | None = None

    def compose(self) -> ComposeResult:
        yield Static("connecting…", id="wait")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(0.2, self._check_done)
        self.set_interval(1.0, self._refresh_place)
        self._refresh_place()

    def _check_done(self) -> None:
        if self.connecting.done:
            self.exit(True)
        else:
            self._show()

    def _refresh_place(self) -> None:
        if self.queue_watch is not None:
            self.run_worker(self._poll, thread=True, exclusive=True, group="queue")

    def _poll(self) -> None:
        assert self.queue_watch is not None
        self.place = self.queue_watch.place()

    def _show(self) -> None:
        waited = time.monotonic() - self.connecting.started
        if self.place is not None:
            text = self.place.describe()
        else:
            text = f"waiting for the gateway to admit the session: {waited:.0f} s so far"
        self.query_one("#wait", Static).update(f"{text}\n\nEsc gives up waiting (the session leaves the queue).")

    def action_give_up(self) -> None:
        self.exit(False)
