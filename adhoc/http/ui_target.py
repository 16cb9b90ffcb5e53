"""Where `/ui/<session_id>/` leads, decided without I/O: the live UI of the session's engine while it
runs, else the history server or the session's logs page. The target only ever comes from what the
gateway recorded for that session, never from the request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from adhoc.gateway.ended_sessions import EndedSession
from adhoc.gateway.sessions import SessionRecord
from adhoc.http.ui_rewrite import Upstream


@dataclass(frozen=True)
class ProxyTo:
    owner: str
    upstream: Upstream
    fallback: str  # where to send the browser when the live UI does not answer


@dataclass(frozen=True)
class RedirectTo:
    owner: str
    location: str


def after_end_location(public_url: str, session_id: str, app_id: str, history_url: str) -> str:
    """The Spark history server's page of the app when there is one, else the session's logs."""
    if history_url and app_id:
        return f"{history_url.rstrip('/')}/history/{app_id}/"
    return f"{urlsplit(public_url).path.rstrip('/')}/logs/{session_id}/"


def ui_target(
    session_id: str,
    record: SessionRecord | None,
    ended: EndedSession | None,
    public_url: str,
    history_url_of: Callable[[str], str],
    live_ui_url: str | None = None,
) -> ProxyTo | RedirectTo | None:
    """None: the gateway knows no such session (404). `live_ui_url`: the engine-side UI address
    found just now (a K8s driver pod's), when it is not kept on the record."""
    if record is not None:
        fallback = after_end_location(public_url, session_id, record.app_id, history_url_of(record.engine))
        ui_url = record.engine_ui_url if live_ui_url is None else live_ui_url
        if record.open and ui_url:
            try:
                return ProxyTo(record.user, Upstream.parse(ui_url), fallback)
            except ValueError:
                pass  # a malformed engine URL leads where an ended session's link would
        return RedirectTo(record.user, fallback)
    if ended is not None:
        location = after_end_location(public_url, session_id, ended.app_id, history_url_of(ended.engine))
        return RedirectTo(ended.user, location)
    return None
