"""Where this session runs: user, route and engine, session id, its cost so far (K8s), and links to
the Spark UI and logs."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.adapter import SessionInfo


class SessionPanel(Static):
    DEFAULT_CSS = "SessionPanel { height: auto; padding: 0 1; border-top: solid $primary-darken-2; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__("connecting…", **kwargs)  # type: ignore[arg-type]
        self.info: SessionInfo | None = None

    def show(self, info: SessionInfo) -> None:
        self.info = info
        text = Text()
        text.append(f"{info.user}@{info.server}\n", style="bold")
        if info.engine:
            text.append(f"engine {info.engine} (route {info.route})\n")
        if info.session_id:
            text.append(f"session {info.session_id[:8]}…\n", style="dim")
        if info.queued_ms:
            text.append(f"queued {info.queued_ms / 1000:.1f} s\n", style="yellow")
        if info.cost is not None:
            text.append(f"cost so far ≈ {info.cost:.4f}", style="bold")
            text.append(" (estimate from pod requests)\n", style="dim")
        for label, url in (("Spark UI", info.spark_ui_url), ("logs", info.logs_url)):
            if url:
                text.append(f"{label}: ")
                text.append(url, style=f"link {url} underline")
                text.append("\n")
        for key, value in info.extra.items():
            text.append(f"{key}: {value}\n", style="dim")
        if not info.engine:
            text.append("(not an adhoc gateway: route and links unknown)\n", style="dim")
        self.update(text)
