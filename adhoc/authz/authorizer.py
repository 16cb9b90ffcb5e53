"""Decisions: a policy applied to one principal's statement, session or metadata call."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import lru_cache

from adhoc.auth import Principal
from adhoc.authz import Decision, SessionState, StateChange
from adhoc.authz.analyzer import analyze
from adhoc.authz.conf_keys import conf_refusal, statement_refusal
from adhoc.authz.names import TableRef
from adhoc.authz.policy import Grants, Policy, load_policy
from adhoc.authz.statement import StatementInfo
from adhoc.authz.token_checks import Limits
from adhoc.errors import ConfigError

log = logging.getLogger("adhoc.authz")

DEFAULT_MAX_STATEMENT_BYTES = 1024 * 1024
DEFAULT_LIMITS = Limits()
_CACHED_MAX_CHARS = 16 * 1024  # bigger texts are analysed each time: the cache holds the text twice
_SLOW_CHARS = 32 * 1024  # from here on analysis takes tens of ms: the gateway does it in a child process


@lru_cache(maxsize=2048)
def _analyze_cached(sql: str, current_db: str, temp_views: frozenset[str], limits: Limits) -> tuple[StatementInfo, ...]:
    # BI tools send the same statements over and over; analysis results are immutable in use.
    return tuple(analyze(sql, current_db, temp_views, limits))


def _analyze(sql: str, current_db: str, temp_views: frozenset[str], limits: Limits) -> tuple[StatementInfo, ...]:
    if len(sql) <= _CACHED_MAX_CHARS:
        return _analyze_cached(sql, current_db, temp_views, limits)
    return tuple(analyze(sql, current_db, temp_views, limits))


class PolicyAuthorizer:
    def __init__(
        self, policy: Policy, max_statement_bytes: int = DEFAULT_MAX_STATEMENT_BYTES, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        self.policy = policy
        # Analysis takes about 2 ms per KB and memory to match: a bound keeps one user's 50 MB
        # statement from stalling everyone's. Larger texts are refused, which fails closed.
        self.max_statement_bytes = max_statement_bytes
        # Tokens and nesting bound what the parser and the engine are handed (a 20,000-branch CASE,
        # 900 nested parentheses), beside the bytes.
        self.limits = limits

    def _grants(self, principal: Principal) -> Grants:
        return self.policy.grants(principal)

    def slow_to_analyse(self, sql: str) -> bool:
        return len(sql) > _SLOW_CHARS and len(sql) <= self.max_statement_bytes

    def check_statement(
        self, principal: Principal, sql: str, state: SessionState, analysed: Sequence[StatementInfo] | None = None
    ) -> Decision:
        grants = self._grants(principal)
        if not grants.rules:
            return Decision(False, f"permission denied: no rule in {self._file()} grants anything to {principal.name}")
        # UTF-8 takes at most 4 bytes a character: only texts that could be over the bound are encoded
        size = len(sql.encode("utf-8", "surrogatepass")) if len(sql) * 4 > self.max_statement_bytes else 0
        if size > self.max_statement_bytes:
            return Decision(False, f"permission denied: the statement is {size:,} bytes; the gateway analyses at "
                                   f"most {self.max_statement_bytes:,} ([policy] max_statement_bytes)")  # fmt: skip
        infos = analysed if analysed is not None else _analyze(sql, state.current_db, frozenset(state.temp_views),
                                                               self.limits)  # fmt: skip
        reads: list[str] = []
        writes: list[str] = []
        for info in infos:
            refusal = self._refusal(principal.name, grants, info)
            reads += map(str, info.reads)
            writes += map(str, info.writes)
            if refusal is not None:
                return Decision(False, refusal, statement_class=info.kind, tables_read=tuple(reads),
                                tables_written=tuple(writes))  # fmt: skip
        kinds = ",".join(sorted({i.kind for i in infos}))
        return Decision(True, "allowed by " + ", ".join(grants.rules), rule=",".join(grants.rules),
                        statement_class=kinds, tables_read=tuple(reads), tables_written=tuple(writes),
                        change=_state_change(infos))  # fmt: skip

    def check_conf(self, principal: Principal, conf: Mapping[str, str], origin: str) -> Decision | None:
        if not conf:
            return None
        grants = self._grants(principal)
        why = conf_refusal(conf, principal.name, grants.admin, origin, grants.conf)
        return None if why is None else Decision(False, why, statement_class="session conf")

    def _refusal(self, user: str, grants: Grants, info: StatementInfo) -> str | None:
        too_big = self.limits.exceeded(info.token_count, info.depth) or info.over_limit
        if too_big and not grants.admin:
            return f"permission denied: {too_big}"
        if info.denied_class and not grants.admin:  # first: the most specific reason
            return f"permission denied: {info.denied_class} is not allowed for non-admin users"
        if info.unresolved and not grants.admin:
            return f"permission denied: the statement could not be fully analysed ({info.unresolved}); refusing it"
        why = statement_refusal(info.conf_keys, info.text, user, grants.admin, grants.conf)
        if why is not None:
            return why
        for ref in sorted(info.writes):
            if not grants.can_write(ref):
                return self._missing(user, "write", ref)
        for ref in sorted(info.reads):
            if not grants.can_read(ref):
                return self._missing(user, "read", ref)
        for db in sorted(info.databases_read):
            if not grants.can_read_database(db):
                return f"permission denied: {user} may not list the tables of {db} in detail (needs read on {db}.*)"
        for db in sorted(info.databases_written):
            if not grants.can_write_database(db):
                return f"permission denied: {user} may not create, alter or drop database {db} (needs write on {db}.*)"
        return None

    def _missing(self, user: str, what: str, ref: TableRef) -> str:
        return f"permission denied: {user} may not {what} {ref} (no rule in {self._file()} grants {what} on it)"

    def _file(self) -> str:
        return os.path.basename(self.policy.source) or "the policy"

    def check_session(self, principal: Principal, open_sessions: int, route: str | None) -> Decision:
        grants = self._grants(principal)
        if not grants.rules:
            return Decision(False, f"permission denied: no rule in {self._file()} grants anything to {principal.name}")
        if grants.max_sessions is not None and open_sessions >= grants.max_sessions and not grants.admin:
            return Decision(False, f"permission denied: {principal.name} already has {open_sessions} open sessions "
                                   f"(max_sessions = {grants.max_sessions})")  # fmt: skip
        return Decision(True, "allowed by " + ", ".join(grants.rules), rule=",".join(grants.rules))

    def allows_engine(self, principal: Principal, engine: str, kind: str) -> bool:
        return self._grants(principal).can_route(engine.lower(), kind)

    def is_admin(self, principal: Principal) -> bool:
        return self._grants(principal).admin

    def group_limits(self, principal: Principal) -> dict[str, int]:
        return self.policy.group_limits(principal)

    def check_metadata(self, principal: Principal, call: str, schema: str | None, table: str | None) -> Decision:
        """Column and key listings reveal a table's schema: they need read on it. Listings of
        databases, tables and functions reveal only names: any user the policy knows may list them."""
        grants = self._grants(principal)
        if not grants.rules:
            return Decision(False, f"permission denied: no rule in {self._file()} grants anything to {principal.name}")
        if call not in ("GetColumns", "GetPrimaryKeys", "GetCrossReference") or grants.admin:
            return Decision(True, "names only")
        db = (schema or "").lower()
        name = (table or "").lower()
        if not db or not name or _is_pattern(db):
            return Decision(False, f"permission denied: {call} must name one database (got {schema!r}); "
                                   "column listings across databases are refused")  # fmt: skip
        if _is_pattern(name):
            if grants.can_read_database(db):
                return Decision(True, f"read on {db}.*")
            return Decision(False, f"permission denied: {principal.name} may not list columns of {db}.{name} "
                                   f"(needs read on {db}.*)")  # fmt: skip
        ref = TableRef(db, name)
        if grants.can_read(ref):
            return Decision(True, f"read on {ref}")
        return Decision(False, self._missing(principal.name, "read", ref))


def _state_change(infos: Sequence[StatementInfo]) -> StateChange | None:
    use_db: str | None = None
    created: set[str] = set()
    dropped: set[str] = set()
    for info in infos:
        use_db = info.use_db or use_db
        created = (created - info.temp_views_dropped) | info.temp_views_created
        dropped |= info.temp_views_dropped
    if use_db is None and not created and not dropped:
        return None
    return StateChange(use_db, frozenset(created), frozenset(dropped))


def _is_pattern(text: str) -> bool:
    return any(c in text for c in "%_*")


class ReloadingAuthorizer:
    """A PolicyAuthorizer that picks up edits to its file; a broken edit keeps the last good policy."""

    def __init__(self, path: str, known_routes: Collection[str] = (), interval_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic,
                 max_statement_bytes: int = DEFAULT_MAX_STATEMENT_BYTES,
                 limits: Limits = DEFAULT_LIMITS) -> None:  # fmt: skip
        self.path = path
        self.max_statement_bytes = max_statement_bytes
        self.limits = limits
        self.known_routes = tuple(known_routes)
        self.interval_s = interval_s
        self._clock = clock
        self._stamp = self._file_stamp()
        self.current = PolicyAuthorizer(load_policy(path, self.known_routes), max_statement_bytes, limits)
        self._checked = clock()

    def _file_stamp(self) -> tuple[float, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime, st.st_size)

    def _fresh(self) -> PolicyAuthorizer:
        now = self._clock()
        if now - self._checked >= self.interval_s:
            self._checked = now
            stamp = self._file_stamp()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self.current = PolicyAuthorizer(
                        load_policy(self.path, self.known_routes), self.max_statement_bytes, self.limits
                    )
                    log.info("policy reloaded", extra={"file": self.path})
                except ConfigError as e:
                    log.error("policy reload failed; keeping the previous policy", extra={"error": e.message})
        return self.current

    def check_statement(
        self, principal: Principal, sql: str, state: SessionState, analysed: Sequence[StatementInfo] | None = None
    ) -> Decision:
        return self._fresh().check_statement(principal, sql, state, analysed)

    def slow_to_analyse(self, sql: str) -> bool:
        return self._fresh().slow_to_analyse(sql)

    def check_conf(self, principal: Principal, conf: Mapping[str, str], origin: str) -> Decision | None:
        return self._fresh().check_conf(principal, conf, origin)

    def check_session(self, principal: Principal, open_sessions: int, route: str | None) -> Decision:
        return self._fresh().check_session(principal, open_sessions, route)

    def check_metadata(self, principal: Principal, call: str, schema: str | None, table: str | None) -> Decision:
        return self._fresh().check_metadata(principal, call, schema, table)

    def allows_engine(self, principal: Principal, engine: str, kind: str) -> bool:
        return self._fresh().allows_engine(principal, engine, kind)

    def is_admin(self, principal: Principal) -> bool:
        return self._fresh().is_admin(principal)

    def group_limits(self, principal: Principal) -> dict[str, int]:
        return self._fresh().group_limits(principal)
