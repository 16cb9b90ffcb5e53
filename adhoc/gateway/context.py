"""What every client connection shares: config, engines, policy, the session registry, metrics."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adhoc.auth import Authenticator, NoAuthentication
from adhoc.auth.recent import RecentLogins
from adhoc.authz import AllowAll, Authorizer
from adhoc.authz.pool import AnalysisPool
from adhoc.config import Config
from adhoc.gateway.backend import BackendConnection
from adhoc.gateway.ended_sessions import EndedSessions
from adhoc.gateway.engine_link import EngineConnector
from adhoc.gateway.engine_ui import AppIdCache, SessionUiResolver
from adhoc.gateway.metrics import Metrics
from adhoc.gateway.sessions import SessionRegistry
from adhoc.ha import Fleet, LocalFleet
from adhoc.logs.service import LogCollection
from adhoc.routing import Router

audit_log = logging.getLogger("adhoc.audit")

AuditSink = Callable[[dict[str, Any]], None]


def log_audit(event: dict[str, Any]) -> None:
    """An audit sink for the debug log (`adhoc serve --log-level DEBUG` without an [audit] file)."""
    audit_log.debug(json.dumps(event, sort_keys=True))


@dataclass
class GatewayContext:
    config: Config
    router: Router
    authenticator: Authenticator = field(default_factory=NoAuthentication)
    authorizer: Authorizer = field(default_factory=AllowAll)
    # None: no [audit] file; refusals and failed logins are still logged, at info.
    audit: AuditSink | None = None
    sessions: SessionRegistry = field(default_factory=SessionRegistry)
    metrics: Metrics = field(default_factory=Metrics)
    analysis_pool: AnalysisPool = field(default_factory=AnalysisPool)
    started_at: float = field(default_factory=time.time)
    recent_logins: RecentLogins = field(default_factory=RecentLogins)  # HTTP Basic, see adhoc.auth.recent
    # identical login refusals seen again within their audit window (see adhoc.gateway.login)
    refusal_repeats: dict[tuple[str, str, str, str], list[int]] = field(default_factory=dict)  # [seen, unwritten]
    # base of the links users follow: [server] public_url, else the HTTP address once it is bound
    public_url: str = ""
    # this replica's own HTTP address, as other replicas reach it ([ha] advertised_host)
    replica_url: str = ""
    ended_sessions: EndedSessions = field(init=False)
    app_ids: AppIdCache = field(default_factory=AppIdCache)
    ui_resolver: SessionUiResolver = field(init=False)
    # Engine logs and cost of k8s sessions (None: not collected, e.g. in tests without K8s)
    logs: LogCollection | None = None
    # How the call layer reaches engines: TCP + SASL in production, the fake engine in fast tests.
    connect_engine: EngineConnector = BackendConnection.connect
    # What the replicas agree on (per-user session counts): this process alone without [ha]
    fleet: Fleet = field(init=False)

    def __post_init__(self) -> None:
        self.public_url = self.public_url or self.config.server.base_url()
        server = self.config.server
        self.ended_sessions = EndedSessions(server.ended_session_retention_s, server.ended_session_max)
        self.sessions.subscribe(self.ended_sessions)
        self.ui_resolver = SessionUiResolver(self.config.effective_engines())
        self.fleet = LocalFleet(self.sessions.open_count)

    def ui_link(self, session_id: str) -> str:
        return f"{self.public_url.rstrip('/')}/ui/{session_id}/"

    def logs_link(self, session_id: str) -> str:
        return f"{self.public_url.rstrip('/')}/logs/{session_id}/"
