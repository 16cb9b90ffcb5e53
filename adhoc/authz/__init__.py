"""What a user may do: every statement, session and metadata call is decided here.

    authorizer = build_authorizer(config)
    decision = authorizer.check_statement(principal, sql, state)   # state: the session's SessionState
    if not decision.allowed: refuse with sqlState 42000 and decision.reason

Deny by default once a policy file is configured; without one everything is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from adhoc.auth import Principal

if TYPE_CHECKING:
    from adhoc.authz.statement import StatementInfo


@dataclass
class SessionState:
    """What name resolution needs to know about a session, moved by statements the engine ran."""

    current_db: str = "default"
    temp_views: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class StateChange:
    """How an allowed statement moves the session's name resolution (USE, temporary views). The
    caller applies it once the engine has run the statement: had the engine refused a `USE hr2`,
    the gateway would resolve names in hr2 while the engine resolves them in default.

    The gateway's temp views must never hold a name the engine has not: such a name would escape
    the policy (`DROP TABLE salaries; USE hr; SELECT * FROM salaries`). So views a statement drops
    or renames away are forgotten before the engine runs it (`forget`: a view the gateway forgot
    too early only makes its name checked as a table), those it creates are added once it succeeded."""

    use_db: str | None = None
    views_created: frozenset[str] = frozenset()  # what exists after the statements, of what they created
    views_dropped: frozenset[str] = frozenset()  # every view any of the statements drops or renames away

    def forget(self, state: SessionState) -> None:
        state.temp_views -= self.views_dropped

    def apply(self, state: SessionState) -> None:
        if self.use_db:
            state.current_db = self.use_db
        state.temp_views -= self.views_dropped
        state.temp_views |= self.views_created


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    rule: str = ""  # which rule allowed it, or which grant is missing
    statement_class: str = ""
    tables_read: tuple[str, ...] = ()
    tables_written: tuple[str, ...] = ()
    change: StateChange | None = None  # to apply to the session when the engine has run it


ALLOW = Decision(True, reason="no policy configured")


class Authorizer(Protocol):
    def check_statement(
        self, principal: Principal, sql: str, state: SessionState, analysed: Sequence[StatementInfo] | None = None
    ) -> Decision:
        """`analysed`: the statement's analysis, when the caller had it done elsewhere (AnalysisPool)."""
        ...

    def slow_to_analyse(self, sql: str) -> bool:
        """Would checking `sql` parse it at length? Then the caller analyses it off the event loop."""
        ...

    def check_session(self, principal: Principal, open_sessions: int, route: str | None) -> Decision: ...

    def check_conf(self, principal: Principal, conf: Mapping[str, str], origin: str) -> Decision | None:
        """A refusal when a key of a session conf or confOverlay may not be set (any key form:
        adhoc.authz.conf_keys), else None."""
        ...

    def check_metadata(self, principal: Principal, call: str, schema: str | None, table: str | None) -> Decision: ...

    def allows_engine(self, principal: Principal, engine: str, kind: str) -> bool:
        """May this principal's sessions run on this engine (policy `routes`)?"""
        ...

    def is_admin(self, principal: Principal) -> bool:
        """Policy `admin = true`: sees every user's sessions, UI links and logs."""
        ...

    def group_limits(self, principal: Principal) -> dict[str, int]:
        """Policy `[[limits]]` caps on this principal's groups: group -> max concurrent sessions."""
        ...


class AllowAll:
    """No [policy] file: every authenticated user may run anything."""

    def check_statement(
        self, principal: Principal, sql: str, state: SessionState, analysed: Sequence[StatementInfo] | None = None
    ) -> Decision:
        return ALLOW

    def slow_to_analyse(self, sql: str) -> bool:
        return False

    def check_session(self, principal: Principal, open_sessions: int, route: str | None) -> Decision:
        return ALLOW

    def check_conf(self, principal: Principal, conf: Mapping[str, str], origin: str) -> Decision | None:
        from adhoc.authz.conf_keys import conf_refusal  # parses USE: loaded only when needed

        why = conf_refusal(conf, principal.name, True, origin)  # as an admin: proxy-user keys only
        return None if why is None else Decision(False, why, statement_class="session conf")

    def check_metadata(self, principal: Principal, call: str, schema: str | None, table: str | None) -> Decision:
        return ALLOW

    def allows_engine(self, principal: Principal, engine: str, kind: str) -> bool:
        return True

    def is_admin(self, principal: Principal) -> bool:
        return False  # no policy names admins: everyone sees their own sessions only

    def group_limits(self, principal: Principal) -> dict[str, int]:
        return {}
