"""Where a session's link leads, and how long the gateway remembers ended sessions."""

from __future__ import annotations

from adhoc.gateway.ended_sessions import EndedSessions
from adhoc.gateway.sessions import SessionRecord
from adhoc.http.ui_rewrite import Upstream
from adhoc.http.ui_target import ProxyTo, RedirectTo, ui_target

PUBLIC = "https://gw.example/adhoc"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(
    sid: str = "s1", *, ui: str = "http://10.0.0.7:4040", app_id: str = "app-1", ended: float | None = None
) -> SessionRecord:
    return SessionRecord(sid, "alice", "k8s", "k8s-main", app_id=app_id, engine_ui_url=ui, ended_at=ended)


def history(engine: str) -> str:
    return {"k8s-main": "http://shs:18080/"}.get(engine, "")


def test_open_session_with_a_ui_is_proxied() -> None:
    target = ui_target("s1", record(), None, PUBLIC, history)
    assert target == ProxyTo("alice", Upstream("http://10.0.0.7:4040"), "http://shs:18080/history/app-1/")


def test_ended_session_redirects_to_history_or_logs() -> None:
    assert ui_target("s1", record(ended=5.0), None, PUBLIC, history) == RedirectTo(
        "alice", "http://shs:18080/history/app-1/"
    )
    no_history = ui_target("s1", record(ended=5.0), None, PUBLIC, lambda e: "")
    assert no_history == RedirectTo("alice", "/adhoc/logs/s1/")
    no_app_id = ui_target("s1", record(ended=5.0, app_id=""), None, PUBLIC, history)
    assert no_app_id == RedirectTo("alice", "/adhoc/logs/s1/")


def test_open_session_without_a_known_ui_leads_where_an_ended_one_would() -> None:
    assert ui_target("s1", record(ui=""), None, "http://gw:10099", lambda e: "") == RedirectTo("alice", "/logs/s1/")


def test_unknown_session_is_none() -> None:
    assert ui_target("nope", None, None, PUBLIC, history) is None


def test_remembered_sessions_redirect_after_the_registry_forgot_them() -> None:
    clock = Clock()
    memory = EndedSessions(retention_s=3600, max_entries=10, clock=clock)
    memory.session_closed(record(ended=clock.now))
    assert ui_target("s1", None, memory.get("s1"), PUBLIC, history) == RedirectTo(
        "alice", "http://shs:18080/history/app-1/"
    )


def test_memory_forgets_after_the_retention() -> None:
    clock = Clock()
    memory = EndedSessions(retention_s=3600, max_entries=10, clock=clock)
    memory.session_closed(record("old", ended=clock.now))
    clock.now += 1800
    memory.session_closed(record("new", ended=clock.now))
    clock.now += 1801
    assert memory.get("old") is None
    assert memory.get("new") is not None and memory.get("new").user == "alice"  # type: ignore[union-attr]
    clock.now += 3600
    assert len(memory) == 0


def test_memory_is_bounded() -> None:
    clock = Clock()
    memory = EndedSessions(retention_s=3600, max_entries=3, clock=clock)
    for i in range(10):
        memory.session_closed(record(f"s{i}", ended=clock.now))
    assert len(memory) == 3
    assert memory.get("s0") is None and memory.get("s9") is not None
