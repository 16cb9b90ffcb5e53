"""The session registry tells its listeners when a session opens, changes and closes."""

from __future__ import annotations

import logging
import uuid

import pytest

from adhoc.engines import Engine
from adhoc.gateway.sessions import DESC_COLUMNS, SessionRecord, SessionRegistry, new_session_id


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, bool]] = []

    def session_opened(self, record: SessionRecord) -> None:
        self.events.append(("opened", record.session_id, record.open))

    def session_changed(self, record: SessionRecord) -> None:
        self.events.append(("changed", record.session_id, record.open))

    def session_closed(self, record: SessionRecord) -> None:
        self.events.append(("closed", record.session_id, record.open))


class Broken(Recorder):
    def session_opened(self, record: SessionRecord) -> None:
        raise RuntimeError("listener bug")


def record(user: str = "alice") -> SessionRecord:
    return SessionRecord(session_id=new_session_id(), user=user, route="local", engine="e")


def test_listeners_hear_open_change_close_once_each() -> None:
    registry, heard = SessionRegistry(), Recorder()
    registry.subscribe(heard)
    r = record()
    registry.add(r)
    r.app_id = "app-1"
    registry.changed(r)
    registry.close(r.session_id)
    registry.close(r.session_id)  # closing twice is not a second event
    registry.changed(r)  # a closed session does not change any more
    assert heard.events == [("opened", r.session_id, True), ("changed", r.session_id, True),
                            ("closed", r.session_id, False)]  # fmt: skip


def test_a_failing_listener_is_logged_and_the_others_still_hear(caplog: pytest.LogCaptureFixture) -> None:
    registry, heard = SessionRegistry(), Recorder()
    registry.subscribe(Broken())
    registry.subscribe(heard)
    r = record()
    with caplog.at_level(logging.ERROR, logger="adhoc.gateway"):
        registry.add(r)
    assert registry.get(r.session_id) is r
    assert heard.events == [("opened", r.session_id, True)]
    assert "session listener failed" in caplog.text


def test_unsubscribed_listener_hears_nothing_more() -> None:
    registry, heard = SessionRegistry(), Recorder()
    registry.subscribe(heard)
    registry.unsubscribe(heard)
    registry.add(record())
    assert heard.events == []


def test_session_ids_are_uuid4_and_the_json_keeps_the_engine_id() -> None:
    r = record()
    assert uuid.UUID(r.session_id).version == 4
    r.engine_session_id = "0" * 8
    assert r.to_json()["engine_session_id"] == "0" * 8
    assert "engine_session_id" not in DESC_COLUMNS  # ADHOC DESC SESSION's columns are a contract


def test_engine_session_conf_takes_the_session_id_and_user() -> None:
    engine = Engine("s", "local", "sts", "h", 1)
    assert engine.session_conf({"a": "b"}, None, session_id=new_session_id(), user="alice") == {"a": "b"}
